#!/usr/bin/env bash
# The whole check: lint, format, types, migrations, then pytest on real PostgreSQL, Redis and Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

echo "== ruff check";   $PY -m ruff check .
echo "== ruff format";  $PY -m ruff format --check .
eval "$($PY -m backendai_site.devservices env)"
echo "== mypy";         $PY -m mypy .
echo "== migrations";   $PY manage.py makemigrations --check --dry-run -v0

if [ -x scripts/ensure_docker.sh ]; then
  echo "== docker"
  if scripts/ensure_docker.sh && { [ ! -x scripts/build_kernel_image.sh ] || scripts/build_kernel_image.sh; }; then
    :
  elif [ "${CI:-}" = "true" ]; then
    echo "error: the Docker engine or the kernel image is unavailable; Docker tests cannot run under CI" >&2
    exit 1
  else
    echo "warning: Docker is unavailable; Docker-backed tests will be skipped" >&2
  fi
fi

echo "== pytest"
$PY -m pytest "$@"
