"""The real runner package started on the host (no container), for client and service tests."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agents_app.kernel_runner import RUNNER_PATH
from agents_app.kernel_runner.client import wait_runner_ready
from sessions_app.services.execute import KernelEndpoint
from tests.helpers.net import free_port

RUNNER_SECRET = "s" * 24


@contextmanager
def host_runners(workdir: Path) -> Iterator[Callable[..., int]]:
    """`start(**environ)` starts a runner in `workdir` and returns its port; all stop at exit."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(**environ: str) -> int:
        port = free_port()
        env = {
            **os.environ,
            "BAI_RUNNER_SECRET": RUNNER_SECRET,
            "BAI_RUNNER_PORT": str(port),
            "BAI_WORKDIR": str(workdir),
            **environ,
        }
        proc = subprocess.Popen(
            [sys.executable, "-B", str(RUNNER_PATH)], env=env, stderr=subprocess.DEVNULL
        )
        procs.append(proc)
        wait_runner_ready("127.0.0.1", port, RUNNER_SECRET, timeout=15)
        return port

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


@contextmanager
def host_runner_endpoint(workdir: Path) -> Iterator[KernelEndpoint]:
    """One host runner in `workdir`, as the endpoint the session services talk to."""
    with host_runners(workdir) as start:
        yield KernelEndpoint(
            session_id=uuid.uuid4(),
            kernel_id=uuid.uuid4(),
            host="127.0.0.1",
            runner_port=start(),
            secret=RUNNER_SECRET,
            host_ports={},
            service_ports=[],
            preopen_ports=[],
        )
