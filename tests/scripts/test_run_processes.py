"""scripts/run_processes.py: how test.sh stops its services and finds leftover processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import processes
from tests.helpers.net import free_port
from tests.helpers.paths import REPO_ROOT


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _run(token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/run_processes.py", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "BAI_TEST_RUN_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def untagged_sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process that was running before the run: it carries no token."""
    env = {k: v for k, v in os.environ.items() if k != "BAI_TEST_RUN_TOKEN"}
    proc = processes.spawn(["sleep", "300"], env=env)
    yield proc
    processes.stop(proc)


class TestLeftoverCheck:
    def test_leftover_is_listed_killed_and_fails(
        self, token: str, untagged_sleeper: subprocess.Popen[bytes]
    ) -> None:
        leftover = processes.spawn(
            ["sleep", "300"], env={**os.environ, "BAI_TEST_RUN_TOKEN": token}
        )

        result = _run(token, "check")

        assert result.returncode == 1
        assert f"pid {leftover.pid} " in result.stderr
        assert leftover.wait(timeout=10) != 0
        assert untagged_sleeper.poll() is None

    def test_nothing_left_passes(self, token: str) -> None:
        assert _run(token, "check").returncode == 0


class TestStopServices:
    def test_service_started_by_the_run_is_stopped_and_others_left_alone(
        self, token: str, tmp_path: Path, untagged_sleeper: subprocess.Popen[bytes]
    ) -> None:
        # a stand-in named like the postmaster (the name is what stop-services looks at)
        binary = tmp_path / "postgres"
        shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
        service = processes.spawn(
            [str(binary), "300"], env={**os.environ, "BAI_TEST_RUN_TOKEN": token}
        )

        result = _run(token, "stop-services")

        assert f"stopping postgres (pid {service.pid})" in result.stderr
        assert service.wait(timeout=10) != 0
        assert untagged_sleeper.poll() is None
        assert _run(token, "check").returncode == 0


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
class TestStopRedis:
    def test_redis_is_shut_down(self, token: str, tmp_path: Path) -> None:
        port = free_port()
        redis = processes.spawn(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while _run(token, "redis-up", str(port)).returncode != 0:
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.1)

        result = _run(token, "stop-redis", str(port))

        assert result.returncode == 0
        assert redis.wait(timeout=10) == 0
        assert _run(token, "redis-up", str(port)).returncode == 1
