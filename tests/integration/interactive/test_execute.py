"""`backend.ai run` through the execute websocket, REST execute with interrupt, on real
containers (marker `docker`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import Runner as Cli
from tests.helpers.interactive import api, ws_open
from tests.helpers.stack import Stack, client_env
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]


def ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{stack.logs()}"
    return result.stdout


class TestRunCommand:
    def test_run_query_input_and_batch_through_the_cli(
        self, platform_stack: Stack, owner: Credentials, cli: Cli, official_client: Path,
        tmp_path: Path,
    ) -> None:  # fmt: skip
        stack = platform_stack

        first = cli(stack, owner, "run", "-t", "e2e-run", "-c", "print('hello')", "python")
        assert "hello" in ok(first, stack)

        asked = subprocess.run(
            [str(official_client), "run", "-t", "e2e-run", "-c",
             "name = input('who? '); print('hi', name)", "python"],
            cwd=tmp_path, env=client_env(official_client, stack, owner, tmp_path),
            input="bob\n", capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert "hi bob" in ok(asked, stack)

        (tmp_path / "main.py").write_text("import sys\nprint('from main')\nsys.exit(3)\n")
        batch = cli(stack, owner, "run", "-t", "e2e-run", "python", "main.py")
        assert "from main" in batch.stdout, f"{batch.stdout}\n{batch.stderr}\n{stack.logs()}"
        assert "exit code = 3" in batch.stdout + batch.stderr

        removed = cli(stack, owner, "run", "--rm", "-c", "print(6 * 7)", "python")
        assert "42" in ok(removed, stack)
        others = Session.objects.exclude(name="e2e-run")
        wait_for(
            lambda: not others.exclude(status__in=SessionStatus.dead()).exists(),
            60,
            "the --rm session to end",
        )

    def test_stream_keeps_console_order(
        self, platform_stack: Stack, owner: Credentials, cli: Cli
    ) -> None:
        stack = platform_stack
        ok(cli(stack, owner, "session", "create", "python", "-t", "e2e-order"), stack)
        session_id = str(Session.objects.get(name="e2e-order").pk)
        code = "import sys\nprint('a')\nsys.stderr.write('b\\n')\nprint('c')"

        async def run() -> list[dict[str, object]]:
            frames = []
            async with ws_open(stack, owner, f"/stream/session/{session_id}/execute") as socket:
                await socket.send(json.dumps({"code": code, "mode": "query", "options": {}}))
                async for raw in socket:
                    frames.append(json.loads(raw))
            return frames

        frames = asyncio.run(run())
        console = [item for frame in frames for item in frame["console"]]  # type: ignore[attr-defined]
        assert console == [["stdout", "a\n"], ["stderr", "b\n"], ["stdout", "c\n"]]
        assert frames[-1]["status"] == "finished" and frames[-1]["exitCode"] == 0


class TestRestExecute:
    def test_modes_and_interrupt(self, platform_stack: Stack, owner: Credentials, cli: Cli) -> None:
        stack = platform_stack
        ok(cli(stack, owner, "session", "create", "python", "-t", "e2e-rest"), stack)
        path = "/session/e2e-rest"

        loop = {"mode": "query", "code": "while True: pass", "runId": None}
        status, body = api(stack, owner, "POST", path, loop)
        assert status == 200, body
        run_id = body["result"]["runId"]
        assert body["result"]["status"] == "continued"

        status, _ = api(stack, owner, "POST", f"{path}/interrupt")
        assert status == 204
        result = body["result"]
        deadline = time.monotonic() + 20
        while result["status"] != "finished" and time.monotonic() < deadline:
            status, body = api(stack, owner, "POST", path,
                               {"mode": "continue", "code": "", "runId": run_id})  # fmt: skip
            assert status == 200, body
            result = body["result"]
        assert result["status"] == "finished" and result["exitCode"] != 0
        assert "KeyboardInterrupt" in json.dumps(result["console"])

        ask = {"mode": "query", "code": "x = input('q? ')", "runId": None}
        status, body = api(stack, owner, "POST", path, ask)
        assert body["result"]["status"] == "waiting-input", body
        status, body = api(stack, owner, "POST", path, {
            "mode": "input", "code": "typed", "runId": body["result"]["runId"]})  # fmt: skip
        assert body["result"]["status"] == "finished", body
        status, body = api(stack, owner, "POST", path, {"mode": "query", "code": "print(x)"})
        assert body["result"]["console"] == [["stdout", "typed\n"]], body

        status, body = api(stack, owner, "POST", path, {
            "mode": "batch", "code": "", "runId": None,
            "options": {"clean": "", "build": "echo built", "exec": "exit 5"}})  # fmt: skip
        result = body["result"]
        while result["status"] != "finished":
            poll = {"mode": "continue", "code": "", "runId": result["runId"]}
            status, body = api(stack, owner, "POST", path, poll)
            result = body["result"]
        assert result["exitCode"] == 5
        assert Session.objects.get(name="e2e-rest").status == SessionStatus.RUNNING
