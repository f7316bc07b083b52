#!/usr/bin/env bash
# Print the path of a Python 3.13 interpreter (PATH first, then pyenv), or fail with one line.
set -euo pipefail
for candidate in "${PYTHON:-}" python3.13 "$HOME/.pyenv/versions/3.13"*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do
  [ -n "$candidate" ] || continue
  if out=$("$candidate" -c 'import sys; print(sys.executable) if sys.version_info[:2] == (3, 13) else sys.exit(1)' 2>/dev/null); then
    echo "$out"; exit 0
  fi
done
echo "error: Python 3.13 not found (install python3.13 or set PYTHON=/path/to/python3.13)" >&2
exit 1
