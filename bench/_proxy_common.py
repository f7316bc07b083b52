"""Shared plumbing of proxy_http and proxy_bulk: nginx as the one upstream, our app proxy,
configurable-http-proxy 5 (npm, bench-local under .data/bench-node) and wrk/curl as clients.

Our proxy runs the real `AppsProxyRouter` under uvicorn (httptools, uvloop, one worker) with a
cookie whose target is the nginx port; only the per-process target lookup (a Redis + database
check made at most every 2 s) is replaced by a fixed answer, so no database is needed.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHP_VERSION = "5.3.0"
CHP_DIR = REPO / ".data" / "bench-node"
LABEL = "0" * 32 + "-http"
COOKIE = "bench-cookie"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def ensure_tools() -> None:
    missing = [pkg for binary, pkg in (("wrk", "wrk"), ("nginx", "nginx-light"))
               if shutil.which(binary) is None]  # fmt: skip
    if missing:
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    if not (CHP_DIR / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        CHP_DIR.mkdir(parents=True, exist_ok=True)
        package = f"configurable-http-proxy@{CHP_VERSION}"
        npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", package]
        subprocess.run(npm, cwd=CHP_DIR, check=True)


@contextmanager
def nginx(root: Path) -> Iterator[int]:
    port = free_port()
    root.chmod(0o755)  # nginx workers run as an unprivileged user
    for path in (root / "www").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
  server {{ listen 127.0.0.1:{port}; root {root}/www; }}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)])
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


SERVE_OURS = """
import asyncio, sys, uvicorn
import django
django.setup()
from proxy_app.apps_proxy.asgi import AppsProxyRouter
from proxy_app.apps_proxy.services import AppTarget
upstream, port, label, cookie = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
async def inner(scope, receive, send):
    raise RuntimeError("not an app host")
router = AppsProxyRouter(inner, domain="apps.localhost", port_range=None)
target = AppTarget(label=label, session_id="00000000-0000-0000-0000-000000000000",
                   kernel_id="", app="http", user_id="", host="127.0.0.1", port=upstream)
async def resolve(value):
    return target if value == cookie else None
router.targets.resolve = resolve
router._mark = lambda session_id: None
uvicorn.run(router, host="127.0.0.1", port=port, log_level="warning", access_log=False,
            http="httptools", loop="uvloop", lifespan="off")
"""


@contextmanager
def our_proxy(upstream: int) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backendai_site.settings"}
    proc = subprocess.Popen([sys.executable, "-c", SERVE_OURS, str(upstream), str(port), LABEL,
                             COOKIE], cwd=REPO, env=env)  # fmt: skip
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def chp(upstream: int) -> Iterator[int]:
    port, api = free_port(), free_port()
    proc = subprocess.Popen(
        ["node", str(CHP_DIR / "node_modules" / ".bin" / "configurable-http-proxy"),
         "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1",
         "--api-port", str(api), "--default-target", f"http://127.0.0.1:{upstream}",
         "--log-level", "error"],
        env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": "bench"},
    )  # fmt: skip
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def our_headers(port: int) -> list[str]:
    return [f"Host: {LABEL}.apps.localhost:{port}", f"Cookie: bai_app={COOKIE}"]


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-proxy-")
