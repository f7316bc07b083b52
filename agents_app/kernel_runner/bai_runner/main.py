"""The runner's entry point: configuration, signal handlers, the accept loop."""

from __future__ import annotations

import builtins
import contextlib
import getpass
import logging
import os
import signal
import socket
import subprocess
import sys
from typing import Any

from . import protocol
from .connection import Connection
from .execution import EXECUTOR, RUNS, ConsoleWriter, on_sigint, query_getpass, query_input
from .protocol import (
    BOOTSTRAP_FAILED_EXIT_CODE,
    PROTOCOL_VERSION,
    SHUTDOWN,
    accept_forever,
    child_env,
    log,
)
from .services import SERVICES


def run_bootstrap() -> bool:
    """Run the kernel's bootstrap script (if any) before accepting connections: its output goes
    to the container log; False when it failed."""
    path = protocol.CONFIG.bootstrap_script
    if not path:
        return True
    log.info("bootstrap script starting")
    try:
        code = subprocess.call(
            ["/bin/sh", path],
            cwd=protocol.CONFIG.workdir,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=sys.__stdout__,
            stderr=sys.__stderr__,
        )
    except OSError as exc:
        log.error("bootstrap script could not be run: %s", exc)
        return False
    if code != 0:
        log.error("bootstrap script failed with exit code %d", code)
        return False
    log.info("bootstrap script finished")
    return True


def _serve_runner_client(client: socket.socket) -> None:
    Connection(client, client.getpeername()).serve()


def _on_sigterm(signum: int, frame: Any) -> None:
    SHUTDOWN.set()
    SERVICES.stop_all()
    for run in RUNS.all():
        if run.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, signal.SIGTERM)
    logging.shutdown()
    os._exit(0)


def main() -> int:
    logging.basicConfig(
        stream=sys.__stderr__,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    protocol.configure()
    if not protocol.CONFIG.secret:
        log.error("BAI_RUNNER_SECRET is not set; refusing to start")
        return 2
    sys.stdout = ConsoleWriter("stdout", sys.__stdout__)
    sys.stderr = ConsoleWriter("stderr", sys.__stderr__)
    builtins.input = query_input
    getpass.getpass = query_getpass
    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)
    with contextlib.suppress(OSError):
        os.chdir(protocol.CONFIG.workdir)
    if not run_bootstrap():
        return BOOTSTRAP_FAILED_EXIT_CODE
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", protocol.CONFIG.port))
    listener.listen(64)
    accept_forever(listener, _serve_runner_client, "runner-accept")
    log.info("runner listening on port %d (protocol %d)", protocol.CONFIG.port, PROTOCOL_VERSION)
    EXECUTOR.loop()
    return 0
