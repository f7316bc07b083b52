#!/usr/bin/env bash
# Start the whole platform in the foreground under supervisord: web (gunicorn + uvicorn workers),
# the Celery manager and batch workers, beat, the app proxy's port listener (when configured) and
# one agent on the local Docker engine. A crashed role is restarted; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${BAI_PORT:-8090}"
export BAI_PUBLIC_ENDPOINT="${BAI_PUBLIC_ENDPOINT:-http://127.0.0.1:${PORT}}"

service_exports="$($PY -m backendai_site.devservices env)" || {
  echo "error: PostgreSQL/Redis could not be brought up (see above)" >&2
  exit 1
}
eval "$service_exports"
$PY manage.py migrate --no-input -v0
bash scripts/build_frontend.sh || echo "warning: the browser terminal's assets could not be built (npm)" >&2
$PY manage.py collectstatic --no-input -v0
$PY manage.py bootstrap >/dev/null
$PY manage.py storage_bootstrap >/dev/null

data_dir="${BAI_DATA_DIR:-.data}"
roles="web,manager,batch,beat"
# port mode of the app proxy (only when BAI_APPS_PORT_RANGE is configured)
if $PY manage.py run_apps_proxy --check 2>/dev/null; then
  roles+=",apps_proxy"
fi

# one agent on this machine, running kernels with the local Docker engine
agent_line="  Agent:  none (Docker is unavailable; see the warning above)"
if scripts/ensure_docker.sh && scripts/build_kernel_image.sh; then
  export BAI_AGENT_ID="${BAI_AGENT_ID:-local-agent}"
  export BAI_AGENT_SCRATCH_ROOT="${BAI_AGENT_SCRATCH_ROOT:-$PWD/.data/scratch}"
  roles+=",agent"
  agent_line="  Agent:  ${BAI_AGENT_ID} (Docker engine, image python = backendai/python:3.11-debian)"
else
  echo "warning: Docker is unavailable; the platform runs without an agent" >&2
fi

# Prometheus multiprocess files of web, manager, batch and beat (merged by the web role's
# /metrics): emptied at every start, as prometheus-client asks, so no dead process's values stay
metrics_dir="${data_dir}/metrics"
rm -rf "$metrics_dir" && mkdir -p "$metrics_dir"
export BAI_AGENT_METRICS_PORT="${BAI_AGENT_METRICS_PORT:-9464}"

# supervisord runs the roles: a role that exits is restarted (and the exit logged) while the
# others keep serving; stopping supervisord stops every role's whole process group.
conf="$($PY scripts/supervisor_conf.py --data-dir "$data_dir" --port "$PORT" \
  --web-workers "${BAI_WEB_WORKERS:-2}" --roles "$roles" --metrics-dir "$metrics_dir")"
.venv/bin/supervisord -c "$conf" &
supervisor_pid=$!
cleanup() {
  trap - INT TERM EXIT
  echo "stopping..."
  kill -TERM "$supervisor_pid" 2>/dev/null || true
  wait "$supervisor_pid" 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# wait until the web role answers, then say where to go
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:${PORT}/" >/dev/null 2>&1 && break
  sleep 0.5
done
creds="${BAI_DATA_DIR:-.data}/credentials.env"
cat <<MSG

backendai-django is running.
  API:    http://127.0.0.1:${PORT}/
  Admin:  http://127.0.0.1:${PORT}/admin/   (log in as $(grep '^BAI_ADMIN_EMAIL=' "$creds" | cut -d= -f2-), password $(grep '^BAI_ADMIN_PASSWORD=' "$creds" | cut -d= -f2-))
  Docs:   http://127.0.0.1:${PORT}/api/docs
  Metrics: http://127.0.0.1:${PORT}/metrics (web, manager, batch, beat); agent: 127.0.0.1:${BAI_AGENT_METRICS_PORT}
${agent_line}
  CLI:    set -a; . ${creds}; set +a; backend.ai config
  Logs:   ${data_dir}/logs/<role>.log (roles: ${roles}); restarts in ${data_dir}/logs/supervisord.log
  Status: .venv/bin/supervisorctl -c ${conf} status
Press Ctrl-C to stop everything.

MSG
wait "$supervisor_pid"
