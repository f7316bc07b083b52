"""`RunnerClient` against the real runner package started on the host (no container)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents_app.kernel_runner import RUNNER_PATH
from agents_app.kernel_runner.client import RunnerClient, wait_runner_ready

SECRET = "s" * 24


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def runner_port(tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    env = {
        **os.environ,
        "BAI_RUNNER_SECRET": SECRET,
        "BAI_RUNNER_PORT": str(port),
        "BAI_WORKDIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-B", str(RUNNER_PATH)], env=env, stderr=subprocess.DEVNULL
    )
    try:
        wait_runner_ready("127.0.0.1", port, SECRET, timeout=15)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class TestRunnerClientConnected:
    async def test_connected_while_open_and_not_after_close(self, runner_port: int) -> None:
        client = RunnerClient("127.0.0.1", runner_port, SECRET)
        assert not client.connected

        await client.connect()
        connected_while_open = client.connected
        result = await client.execute("print(6 * 7)")
        await client.close()

        assert connected_while_open
        assert result.stdout == "42\n"
        assert not client.connected
