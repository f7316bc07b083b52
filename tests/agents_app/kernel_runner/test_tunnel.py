"""The runner's `tunnel` request and its built-in terminal, against the runner on the host."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable

import pytest

from agents_app.kernel_runner.client import RunnerClient, open_tunnel
from agents_app.runtime.errors import RunnerAuthFailed, RunnerRequestError
from tests.helpers.host_runner import RUNNER_SECRET
from tests.helpers.net import free_port

SECRET = RUNNER_SECRET


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def _read_until(sock: socket.socket, needle: bytes, timeout: float = 10.0) -> bytes:
    loop = asyncio.get_running_loop()
    output = b""
    async with asyncio.timeout(timeout):
        while needle not in output:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                break
            output += chunk
    return output


@pytest.fixture
def terminal_port() -> int:
    return free_port()


@pytest.fixture
def runner_with_terminal(start_runner: Callable[..., int], terminal_port: int) -> int:
    services = [
        {"name": "terminal", "protocol": "pty", "container_ports": [terminal_port]},
        {"name": "echo", "protocol": "tcp", "container_ports": [free_port()],
         "command": ["python3", "-c", ECHO_SERVER, "{port}"]},
    ]  # fmt: skip
    return start_runner(BAI_SERVICE_PORTS=json.dumps(services))


ECHO_SERVER = """
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    conn, _ = server.accept()
    data = conn.recv(100)
    conn.sendall(b"echo:" + data)
    conn.close()
"""


class TestTerminalTunnel:
    async def test_terminal_is_a_shell_through_the_runner_and_listens_on_no_port(
        self, runner_with_terminal: int, terminal_port: int
    ) -> None:
        async with RunnerClient("127.0.0.1", runner_with_terminal, SECRET) as client:
            started = await client.start_service("terminal")
        sock = await open_tunnel("127.0.0.1", runner_with_terminal, SECRET, "terminal")
        try:
            await asyncio.get_running_loop().sock_sendall(sock, b"echo hi$((40+2))\n")
            output = await _read_until(sock, b"hi42")
        finally:
            sock.close()

        assert started["status"] == "on-demand"
        assert b"hi42" in output
        assert _refused(terminal_port)

    async def test_a_wrong_secret_gets_no_tunnel(self, runner_with_terminal: int) -> None:
        with pytest.raises(RunnerAuthFailed):
            await open_tunnel("127.0.0.1", runner_with_terminal, "w" * 24, "terminal")

    async def test_an_unknown_service_is_refused(self, runner_with_terminal: int) -> None:
        with pytest.raises(RunnerRequestError) as caught:
            await open_tunnel("127.0.0.1", runner_with_terminal, SECRET, "nope")

        assert caught.value.runner_code == "unknown-service"

    async def test_a_tunnel_after_other_requests_is_refused(
        self, runner_with_terminal: int
    ) -> None:
        async with RunnerClient("127.0.0.1", runner_with_terminal, SECRET) as client:
            await client.ping()
            with pytest.raises(RunnerRequestError) as caught:
                await client.request("tunnel", service="terminal")
            still_serving = await client.ping()

        assert caught.value.runner_code == "bad-request"
        assert still_serving >= 0

    async def test_a_service_process_is_relayed_on_its_loopback_port(
        self, runner_with_terminal: int
    ) -> None:
        sock = await open_tunnel("127.0.0.1", runner_with_terminal, SECRET, "echo")
        try:
            await asyncio.get_running_loop().sock_sendall(sock, b"ping")
            output = await _read_until(sock, b"ping")
        finally:
            sock.close()

        assert output == b"echo:ping"
