"""The runner's code completion and its batch defaults ("*"), on the host (no container)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agents_app.kernel_runner import RUNNER_PATH
from agents_app.kernel_runner.client import RunnerClient, wait_runner_ready
from tests.helpers.host_runner import RUNNER_SECRET
from tests.helpers.net import free_port

SECRET = RUNNER_SECRET


class TestCompletion:
    async def test_names_of_the_session_namespace_complete(self, runner_port: int) -> None:
        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            await client.run_to_end(await client.execute("import os\nmy_value = 41"))
            names = await client.complete("x = my_v")
            attributes = await client.complete("os.pa")
            by_cursor = await client.complete("", {"line": "print(my_va + 1)", "col": 11})
            nothing = await client.complete("x = 1 + ")

        assert names == ["my_value"]
        assert "os.path" in attributes
        assert by_cursor == ["my_value"]
        assert nothing == []

    async def test_a_failing_attribute_gives_no_candidates_and_the_runner_serves_on(
        self, runner_port: int
    ) -> None:
        code = (
            "class Bad:\n    def __getattr__(self, name):\n        raise RuntimeError(name)\n"
            "b = Bad()"
        )
        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            await client.run_to_end(await client.execute(code))
            candidates = await client.complete("b.zz")
            pong = await client.ping()

        assert candidates == []
        assert pong >= 0


class TestBatchDefaults:
    async def test_an_uploaded_script_runs_without_exec(self, runner_port: int) -> None:
        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            await client.file_write(
                "hello.py", b"import sys\nprint('hi'); print('oops', file=sys.stderr)\n"
            )
            last = await client.run_to_end(await client.batch())

        assert last.exit_code == 0
        assert last.stdout == "hi\n"
        assert last.stderr == "oops\n"

    async def test_main_py_wins_over_other_uploads(self, runner_port: int, tmp_path: Path) -> None:
        (tmp_path / "main.py").write_text("print('main')\n")
        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            await client.file_write("other.py", b"print('other')\n")
            last = await client.run_to_end(await client.batch())

        assert last.stdout == "main\n"

    async def test_nothing_to_run_fails_with_127_and_says_why(self, runner_port: int) -> None:
        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            nothing = await client.run_to_end(await client.batch())
            await client.file_write("a.py", b"print(1)\n")
            await client.file_write("b.py", b"print(2)\n")
            several = await client.run_to_end(await client.batch())
            explicit = await client.run_to_end(await client.batch(exec_="python3 b.py"))

        assert nothing.exit_code == 127 and "nothing to execute" in nothing.stderr
        assert several.exit_code == 127 and "several scripts" in several.stderr
        assert explicit.exit_code == 0 and explicit.stdout == "2\n"

    async def test_uploads_are_forgotten_after_a_batch_run(self, runner_port: int) -> None:
        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            await client.file_write("once.py", b"print('once')\n")
            first = await client.run_to_end(await client.batch())
            second = await client.run_to_end(await client.batch())

        assert first.stdout == "once\n"
        assert second.exit_code == 127

    async def test_batch_output_reaches_the_runner_own_stdout_and_stderr(
        self, tmp_path: Path
    ) -> None:
        """What a container's log is made of: `session logs` reads it."""
        port = free_port()
        env = {
            **os.environ,
            "BAI_RUNNER_SECRET": SECRET,
            "BAI_RUNNER_PORT": str(port),
            "BAI_WORKDIR": str(tmp_path),
        }
        out_path, err_path = tmp_path / "out.log", tmp_path / "err.log"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-B", str(RUNNER_PATH)], env=env, stdout=out, stderr=err
            )
            try:
                wait_runner_ready("127.0.0.1", port, SECRET, timeout=15)
                async with RunnerClient("127.0.0.1", port, SECRET) as client:
                    command = "echo to-out; echo to-err >&2"
                    await client.run_to_end(await client.batch(exec_=command))
            finally:
                proc.terminate()
                proc.wait(timeout=10)

        assert "to-out" in out_path.read_text()
        assert "to-err" in err_path.read_text()
