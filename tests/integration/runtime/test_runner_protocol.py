"""The kernel runner inside a real container, spoken to through RunnerClient."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from agents_app.kernel_runner.client import RunnerClient, open_tunnel, wait_runner_ready
from agents_app.runtime import KernelInfo, KernelSpec, RunnerAuthFailed, RunnerRequestError
from agents_app.runtime.docker_runtime import DockerRuntime

pytestmark = pytest.mark.docker


def _client(info: KernelInfo, secret: str) -> RunnerClient:
    assert info.runner_port is not None
    return RunnerClient("127.0.0.1", info.runner_port, secret)


class TestRunnerAuthentication:
    def test_wrong_secret_is_refused(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        _, info = running_kernel
        assert info.runner_port is not None

        with pytest.raises(RunnerAuthFailed):
            run(_client(info, "not-the-secret").connect())
        with pytest.raises(RunnerAuthFailed):
            wait_runner_ready("127.0.0.1", info.runner_port, "not-the-secret", timeout=5)

    def test_request_before_auth_closes_connection(
        self, running_kernel: tuple[KernelSpec, KernelInfo]
    ) -> None:
        _, info = running_kernel
        assert info.runner_port is not None

        with socket.create_connection(("127.0.0.1", info.runner_port), timeout=5) as sock:
            sock.sendall(b'{"type": "ping", "id": 1}\n')
            reader = sock.makefile("rb")
            first = json.loads(reader.readline())
            rest = reader.readline()

        assert first["code"] == "auth-failed"
        assert rest == b""


class TestQueryMode:
    def test_namespace_persists_and_last_expression_is_shown(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel

        async def scenario() -> tuple[Any, Any]:
            async with _client(info, spec.runner_secret) as client:
                first = await client.run_to_end(await client.execute("x = 41"))
                second = await client.run_to_end(await client.execute("x + 1"))
                return first, second

        first, second = run(scenario())

        assert first.stdout == "" and first.exit_code == 0
        assert second.stdout == "42\n"

    def test_exception_is_reported_on_stderr(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel

        async def scenario() -> Any:
            async with _client(info, spec.runner_secret) as client:
                return await client.run_to_end(await client.execute("print('a')\n1/0"))

        result = run(scenario())

        assert result.exit_code == 1
        assert result.stdout == "a\n"
        assert "ZeroDivisionError" in result.stderr
        assert "bai_runner" not in result.stderr  # the runner package's own frames are hidden

    def test_input_waits_for_the_reply(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel

        async def scenario() -> tuple[Any, Any]:
            async with _client(info, spec.runner_secret) as client:
                asked = await client.run_to_end(
                    await client.execute("name = input('who? ')\nprint('hello', name)")
                )
                answered = await client.run_to_end(await client.send_input(asked.run_id, "bob"))
                return asked, answered

        asked, answered = run(scenario())

        assert asked.status == "waiting-input"
        assert asked.stdout == "who? "
        assert asked.options == {"is_password": False}
        assert answered.status == "finished"
        assert answered.stdout == "hello bob\n"

    def test_interrupt_stops_a_busy_loop(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel

        async def scenario() -> tuple[Any, Any, Any]:
            async with _client(info, spec.runner_secret) as client:
                started = await client.execute("while True: pass", wait=0.5)
                await client.interrupt(started.run_id)
                ended = await client.run_to_end(started, timeout=10)
                after = await client.run_to_end(await client.execute("print('alive')"))
                return started, ended, after

        started, ended, after = run(scenario())

        assert started.status == "continued"
        assert ended.status == "finished" and ended.exit_code == 130
        assert "KeyboardInterrupt" in ended.stderr
        assert after.stdout == "alive\n"

    def test_second_query_while_busy_is_rejected(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel

        async def scenario() -> None:
            async with _client(info, spec.runner_secret) as client:
                started = await client.execute("import time; time.sleep(30)", wait=0.2)
                try:
                    with pytest.raises(RunnerRequestError) as error:
                        await client.execute("print(1)")
                    assert error.value.runner_code == "busy"
                finally:
                    await client.interrupt(started.run_id)
                    await client.run_to_end(started, timeout=10)

        run(scenario())


class TestBatchMode:
    def test_exec_exit_code_is_reported(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel

        async def scenario() -> Any:
            async with _client(info, spec.runner_secret) as client:
                first = await client.batch(build="", exec_="echo out; echo err >&2; exit 3")
                return await client.run_to_end(first)

        result = run(scenario())

        assert result.status == "finished"
        assert result.exit_code == 3
        assert result.stdout == "out\n"
        assert result.stderr == "err\n"

    def test_failing_build_skips_exec(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel

        async def scenario() -> list[Any]:
            async with _client(info, spec.runner_secret) as client:
                first = await client.batch(build="exit 2", exec_="touch ran.txt")
                return [r async for r in client.follow(first)]

        results = run(scenario())

        statuses = [(r.status, r.exit_code) for r in results if r.status != "continued"]
        assert statuses == [("build-finished", 2), ("finished", 2)]

    def test_default_exec_runs_main_py(
        self,
        runtime: DockerRuntime,
        running_kernel: tuple[KernelSpec, KernelInfo],
        run: Callable[..., Any],
    ) -> None:
        spec, info = running_kernel
        runtime.upload_file(spec.kernel_id, "main.py", b"import sys; print('main'); sys.exit(4)\n")

        async def scenario() -> Any:
            async with _client(info, spec.runner_secret) as client:
                return await client.run_to_end(await client.batch())

        result = run(scenario())

        assert result.stdout == "main\n"
        assert result.exit_code == 4


class TestPty:
    def test_echo_and_resize(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel

        async def scenario() -> tuple[bytes, bytes, int | None]:
            async with _client(info, spec.runner_secret) as client:
                pty = await client.pty_open(rows=24, cols=80)
                await pty.write(b"echo pty-$((6*7))\n")
                echoed = await pty.read_until(b"pty-42\r\n", timeout=10)
                await pty.resize(30, 100)
                await pty.write(b"stty size\n")
                size = await pty.read_until(b"30 100", timeout=10)
                await pty.write(b"exit 5\n")
                while await pty.read(timeout=10) is not None:
                    pass
                return echoed, size, pty.exit_code

        echoed, size, exit_code = run(scenario())

        assert b"pty-42\r\n" in echoed
        assert b"30 100" in size
        assert exit_code == 5


class TestServiceApps:
    def test_http_app_starts_and_serves_on_published_port(
        self,
        runtime: DockerRuntime,
        running_kernel: tuple[KernelSpec, KernelInfo],
        run: Callable[..., Any],
    ) -> None:
        spec, info = running_kernel
        runtime.upload_file(spec.kernel_id, "hello.txt", b"hello from the kernel")

        async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
            async with _client(info, spec.runner_secret) as client:
                started = await client.start_service("http")
                again = await client.start_service("http")
                return started, again

        started, again = run(scenario())
        url = f"http://127.0.0.1:{info.host_ports['http']}/hello.txt"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()

        assert started["status"] == "started"
        assert again["status"] == "already-running"
        assert body == b"hello from the kernel"

    def test_terminal_app_is_a_raw_pty_through_a_runner_tunnel(
        self, running_kernel: tuple[KernelSpec, KernelInfo], run: Callable[..., Any]
    ) -> None:
        spec, info = running_kernel
        assert info.runner_port is not None

        async def scenario() -> tuple[dict[str, Any], bytes]:
            async with _client(info, spec.runner_secret) as client:
                started = await client.start_service("terminal")
            sock = await open_tunnel("127.0.0.1", info.runner_port or 0, spec.runner_secret,
                                     "terminal")  # fmt: skip
            loop = asyncio.get_running_loop()
            output = b""
            try:
                await loop.sock_sendall(sock, b"echo term-$((2+3))\n")
                async with asyncio.timeout(10):
                    while b"term-5\r\n" not in output:
                        output += await loop.sock_recv(sock, 4096)
            finally:
                sock.close()
            return started, output

        started, output = run(scenario())

        assert started["status"] == "on-demand"
        assert "terminal" not in info.host_ports  # nothing of it is published
        assert b"term-5\r\n" in output
