#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
#
# Idempotent and safe to run concurrently (serialised with flock):
#   1. if `docker info` works, exit 0;
#   2. if dockerd is missing and we are root, apt-get install docker.io;
#   3. start dockerd in the background, logging to $BAI_DATA_DIR/dockerd.log
#      (default /var/log/dockerd-bai.log), and wait up to $BAI_DOCKER_WAIT seconds (60).
# Exits non-zero with one clear line on stderr when Docker cannot be made available.
set -euo pipefail

WAIT_SECONDS="${BAI_DOCKER_WAIT:-60}"
if [[ -n "${BAI_DATA_DIR:-}" ]]; then
    mkdir -p "$BAI_DATA_DIR"
    LOG_FILE="$BAI_DATA_DIR/dockerd.log"
    LOCK_FILE="$BAI_DATA_DIR/ensure_docker.lock"
else
    LOG_FILE="/var/log/dockerd-bai.log"
    LOCK_FILE="${TMPDIR:-/tmp}/bai-ensure-docker.lock"
fi

fail() {
    echo "ensure_docker: $*" >&2
    exit 1
}

docker_ok() {
    command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

if docker_ok; then
    exit 0
fi

# Serialise concurrent runs: the second caller waits, then re-checks.
exec 9>"$LOCK_FILE"
if command -v flock >/dev/null 2>&1; then
    flock -w $((WAIT_SECONDS + 600)) 9 || fail "timed out waiting for another ensure_docker run"
fi

if docker_ok; then
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    if [[ "$(id -u)" -ne 0 ]]; then
        fail "dockerd is not installed and we are not root; install docker.io (or Docker Engine) first"
    fi
    command -v apt-get >/dev/null 2>&1 || fail "dockerd is missing and apt-get is not available"
    echo "ensure_docker: installing docker.io with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || fail "apt-get update failed"
    apt-get install -y -qq docker.io >/dev/null || fail "apt-get install docker.io failed"
    command -v dockerd >/dev/null 2>&1 || fail "docker.io installed but dockerd is still missing"
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    if [[ "$(id -u)" -ne 0 ]]; then
        fail "dockerd is not running and we are not root to start it"
    fi
    # containerd is started by dockerd itself when not running.
    echo "ensure_docker: starting dockerd (log: $LOG_FILE)" >&2
    # Close fd 9 so the daemon does not hold the lock for its whole life.
    nohup dockerd >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
    disown || true
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
    if docker_ok; then
        exit 0
    fi
    sleep 1
done
fail "docker info still fails after ${WAIT_SECONDS}s; see $LOG_FILE"
