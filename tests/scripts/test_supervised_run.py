"""`make run`'s supervisor: a killed role comes back, the others keep running, stop leaves nothing.

Runs supervisord with the configuration scripts/supervisor_conf.py generates (the one run.sh
uses), for the cheap roles web (gunicorn, one uvicorn worker) and the manager worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import processes
from tests.helpers.net import free_port
from tests.helpers.paths import REPO_ROOT

BIN = Path(sys.executable).parent
START_TIMEOUT = 90.0


@dataclass
class Supervised:
    conf: Path
    data_dir: Path
    port: int
    token: str
    process: subprocess.Popen[bytes]

    def ctl(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(self.conf), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout.strip()

    def pid(self, role: str) -> int:
        """The role's pid while it is RUNNING, else 0."""
        status = self.ctl("status", role).split()
        return int(self.ctl("pid", role)) if len(status) > 1 and status[1] == "RUNNING" else 0

    def web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer: the web role serves
        except OSError:
            return False

    def log(self) -> str:
        return (self.data_dir / "logs" / "supervisord.log").read_text(errors="replace")


def tagged_processes(token: str) -> list[int]:
    """Processes whose environment carries `token`: supervisord and everything it started."""
    found: list[int] = []
    needle = f"BAI_TEST_PROCESS_TOKEN={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Supervised]:
    data_dir = tmp_path / "data"
    port = free_port()
    conf = subprocess.run(
        [sys.executable, "scripts/supervisor_conf.py", "--data-dir", str(data_dir),
         "--port", str(port), "--web-workers", "1", "--roles", "web,manager"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    token = uuid.uuid4().hex
    env = {**os.environ, "BAI_TEST_PROCESS_TOKEN": token, "BAI_LOG_JSON": "false"}
    env["REDIS_URL"] = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    with (tmp_path / "supervisord.out").open("wb") as out:
        process = processes.spawn(
            [str(BIN / "supervisord"), "-c", conf], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
        )
    state = Supervised(Path(conf), data_dir, port, token, process)
    try:
        yield state
    finally:
        processes.stop(process, signal.SIGTERM, timeout=60)
        for pid in tagged_processes(token):  # nothing may survive even a failed test
            os.kill(pid, signal.SIGKILL)


class TestSupervisedRoles:
    def test_killed_role_restarts_others_keep_running_stop_leaves_nothing(
        self, supervised: Supervised
    ) -> None:
        wait_until(lambda: supervised.pid("web") and supervised.pid("manager"), START_TIMEOUT,
                   "both roles RUNNING")  # fmt: skip
        wait_until(supervised.web_answers, START_TIMEOUT, "the web role to answer")
        web_pid, manager_pid = supervised.pid("web"), supervised.pid("manager")

        os.kill(web_pid, signal.SIGKILL)

        wait_until(lambda: supervised.pid("web") not in (0, web_pid), START_TIMEOUT,
                   "web restarted")  # fmt: skip
        wait_until(supervised.web_answers, START_TIMEOUT, "the restarted web role to answer")
        assert supervised.pid("manager") == manager_pid
        assert "exited: web (terminated by SIGKILL; not expected)" in supervised.log()

        supervised.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert supervised.process.wait(timeout=90) == 0
        wait_until(lambda: not tagged_processes(supervised.token), 15, "every process gone")
