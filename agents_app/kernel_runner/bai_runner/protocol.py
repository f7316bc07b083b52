"""The runner's wire protocol and shared state: limits, errors, configuration.

Line-delimited JSON over one TCP port, authenticated with BAI_RUNNER_SECRET
(docs/design/0001-kernel-runner.md). Standard library only, Python >= 3.8.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from typing import Any, Callable, Dict  # noqa: UP035 - runs on 3.8

PROTOCOL_VERSION = 1
MAX_LINE = 16 * 1024 * 1024
AUTH_TIMEOUT = 10.0
FLUSH_DELAY = 0.05
DEFAULT_WAIT = 1.0
MAX_WAIT = 30.0
READ_CHUNK = 65536
# The exit code that tells the runtime the bootstrap script failed (agents_app.runtime.models
# has the same constant; this package imports nothing of the project).
BOOTSTRAP_FAILED_EXIT_CODE = 3

log = logging.getLogger("bai.runner")
Message = Dict[str, Any]  # noqa: UP006 - evaluated at runtime on python 3.8


class RunnerError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


class Config:
    def __init__(self) -> None:
        self.secret = os.environ.pop("BAI_RUNNER_SECRET", "")
        self.port = int(os.environ.get("BAI_RUNNER_PORT", "2000"))
        self.workdir = os.environ.get("BAI_WORKDIR", "/home/work")
        self.bootstrap_script = os.environ.pop("BAI_BOOTSTRAP_SCRIPT", "")
        self.started = time.monotonic()
        raw = os.environ.get("BAI_SERVICE_PORTS", "[]")
        try:
            services = json.loads(raw)
        except ValueError:
            log.warning("BAI_SERVICE_PORTS is not JSON; no services")
            services = []
        self.services: dict[str, Message] = {s["name"]: s for s in services if "name" in s}


CONFIG: Config
SHUTDOWN = threading.Event()
MAIN_THREAD_ID = threading.get_ident()


def configure() -> Config:
    """Read the configuration from the environment (once, at start-up)."""
    global CONFIG
    CONFIG = Config()
    return CONFIG


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HOME", CONFIG.workdir)
    return env


def wait_arg(msg: Message) -> float:
    try:
        wait = float(msg.get("wait", DEFAULT_WAIT))
    except (TypeError, ValueError):
        raise RunnerError("bad-request", "wait must be a number") from None
    return max(0.0, min(wait, MAX_WAIT))


def require(msg: Message, key: str) -> Any:
    if key not in msg:
        raise RunnerError("bad-request", f"missing field {key!r}")
    return msg[key]


def accept_forever(
    listener: socket.socket, serve: Callable[[socket.socket], None], name: str
) -> threading.Thread:
    def loop() -> None:
        while not SHUTDOWN.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                if SHUTDOWN.is_set():
                    return
                time.sleep(0.1)
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
