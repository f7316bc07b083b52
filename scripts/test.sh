#!/usr/bin/env bash
# The whole check: lint, format, types, migrations, then pytest on real PostgreSQL, Redis and Docker;
# it ends by stopping what it started and failing when any process of its own is left running.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

# Everything this run starts inherits the token; at the end the services it started (an embedded
# PostgreSQL, a redis-server, a dockerd) are stopped and any other process carrying it fails the run.
# Services the machine already ran do not carry it and are left alone.
BAI_TEST_RUN_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export BAI_TEST_RUN_TOKEN
finish() {
  local status=$?
  trap - EXIT
  set +e
  echo "== leftover processes"
  $PY scripts/run_processes.py stop-services
  [ -z "$redis_started" ] || $PY scripts/run_processes.py stop-redis
  if ! $PY scripts/run_processes.py check; then
    [ "$status" -ne 0 ] || status=1
  fi
  exit "$status"
}
redis_started=""
trap finish EXIT

echo "== ruff check";   $PY -m ruff check .
echo "== ruff format";  $PY -m ruff format --check .
# devservices starts a redis-server when REDIS_URL is unset and none answers: then it is ours to stop
if [ -z "${REDIS_URL:-}" ] && ! $PY scripts/run_processes.py redis-up; then redis_started=1; fi
service_exports="$($PY -m backendai_site.devservices env)" || {
  echo "error: PostgreSQL/Redis could not be brought up (see above)" >&2
  exit 1
}
eval "$service_exports"
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

# system tools some integration tests drive (a loopback registry for the registry-scan tests)
apt_updated=""
ensure_apt() {  # ensure_apt PACKAGE BINARY
  command -v "$2" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1
}
echo "== test tools"
if ! ensure_apt docker-registry docker-registry; then
  if [ "${CI:-}" = "true" ]; then
    echo "error: docker-registry is missing and cannot be installed" >&2
    exit 1
  fi
  echo "warning: docker-registry is missing; registry tests will be skipped" >&2
fi
if ! ensure_apt openssh-client ssh || ! command -v scp >/dev/null 2>&1; then
  # `backend.ai session ssh/scp` run the system's ssh and scp (tests/integration/ssh)
  if [ "${CI:-}" = "true" ]; then
    echo "error: the OpenSSH client is missing and cannot be installed" >&2
    exit 1
  fi
  echo "warning: the OpenSSH client is missing; the session ssh tests will be skipped" >&2
fi
if ! ensure_apt prometheus prometheus; then
  # tests/metrics/test_prometheus.py scrapes the web role with a real Prometheus server
  if [ "${CI:-}" = "true" ]; then
    echo "error: Debian's prometheus is missing and cannot be installed" >&2
    exit 1
  fi
  echo "warning: prometheus is missing; the Prometheus scrape test will be skipped" >&2
fi
ensure_apt chromium chromium || echo "warning: Debian's chromium is missing; browser tests will be skipped (they fail under CI=true)" >&2
bash scripts/build_frontend.sh  # the terminal page's xterm.js from the npm registry, when missing

echo "== pytest"
$PY -m pytest "$@"
