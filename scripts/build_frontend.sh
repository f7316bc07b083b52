#!/usr/bin/env bash
# Build the browser terminal's assets: install the pinned @xterm packages from the npm registry
# (package-lock.json) and copy their dist files into proxy_app/terminal/static/terminal/vendor/
# (git-ignored). Skips the work when the files are already there, unless --force.
set -euo pipefail
cd "$(dirname "$0")/.."
FRONTEND=proxy_app/terminal/frontend
VENDOR=proxy_app/terminal/static/terminal/vendor
if [ "${1:-}" != "--force" ] && [ -s "$VENDOR/xterm.js" ] && [ -s "$VENDOR/addon-fit.js" ] && [ -s "$VENDOR/xterm.css" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is required to build the terminal page (apt-get install -y npm)" >&2
  exit 1
fi
(cd "$FRONTEND" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
mkdir -p "$VENDOR"
cp "$FRONTEND/node_modules/@xterm/xterm/lib/xterm.js" "$VENDOR/xterm.js"
cp "$FRONTEND/node_modules/@xterm/xterm/css/xterm.css" "$VENDOR/xterm.css"
cp "$FRONTEND/node_modules/@xterm/addon-fit/lib/addon-fit.js" "$VENDOR/addon-fit.js"
echo "terminal assets built in $VENDOR"
