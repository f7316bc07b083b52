"""A `dockerd` restart under running sessions: the agent rides out the engine's absence,
reconciles when it is back (kernels whose containers died are reported and end with a reason,
surviving ones stay RUNNING), the invariants hold, and a new session starts and executes.

dockerd is started the way scripts/ensure_docker.sh starts it on this machine (no systemd);
the test always leaves it running, even when it fails. Only one Docker test runs at a time on
a machine (/tmp/bai-docker.lock), so restarting the shared engine disturbs no other run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sessions_app.enums import KernelStatus, SessionStatus
from sessions_app.models import Kernel
from tests.helpers.credentials import Credentials
from tests.helpers.fault_sessions import (
    assert_errors_have_reasons,
    execute,
    session_create,
    sessions_create_burst,
    sessions_destroy_all,
    wait_for_verdicts,
)
from tests.helpers.invariants import agent_containers, wait_for_invariants
from tests.helpers.paths import REPO_ROOT
from tests.helpers.stack import Stack, require
from tests.helpers.wait import wait_for

TOKEN_VAR = "BAI_TEST_RUN_TOKEN"  # scripts/run_processes.py

pytestmark = [pytest.mark.docker]


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def dockerd_pid() -> int | None:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    return int(found.split()[0]) if found.split() else None


def run_token(pid: int) -> str | None:
    """The scripts/test.sh run token in the daemon's environment: set when that run started
    it (and stops it at its end), absent for the machine's own daemon."""
    prefix = f"{TOKEN_VAR}=".encode()
    for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode()
    return None


def docker_ensure(token: str | None) -> None:
    """Start dockerd as the setup does, owned by whoever owned the daemon it replaces (the
    machine, or the test run that started it), in a session of its own so no clean-up that
    signals this test's process group reaches it."""
    env = {k: v for k, v in os.environ.items() if k != TOKEN_VAR}
    if token is not None:
        env[TOKEN_VAR] = token
    subprocess.run(
        [str(REPO_ROOT / "scripts" / "ensure_docker.sh")],
        check=True, timeout=120, start_new_session=True, env=env,
    )  # fmt: skip


@dataclass(frozen=True)
class Dockerd:
    pid: int
    token: str | None


@pytest.fixture
def restartable_dockerd() -> Iterator[Dockerd]:
    pid = dockerd_pid()
    require(pid is not None, "dockerd is not a process here to restart (remote engine?)")
    require(os.geteuid() == 0, "restarting dockerd needs root")
    assert pid is not None
    daemon = Dockerd(pid=pid, token=run_token(pid))
    try:
        yield daemon
    finally:
        if not docker_answers():
            docker_ensure(daemon.token)


def running_kernels_without_a_live_container(names: list[str]) -> list[str]:
    """RUNNING kernels of the sessions whose container is not up (stopped by the restart and
    not yet noticed): the agent's reconciliation must bring this to empty."""
    problems = []
    for kernel in Kernel.objects.filter(session__name__in=names, status=KernelStatus.RUNNING):
        state = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Running}}", kernel.container_id],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        if state.stdout.strip() != "true":
            problems.append(f"{kernel.pk}: {state.stdout.strip() or state.stderr.strip()}")
    return problems


def dockerd_restart(daemon: Dockerd) -> None:
    pid = daemon.pid
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.2)
    assert not os.path.exists(f"/proc/{pid}"), "dockerd did not stop within 60 s"
    time.sleep(2)  # the agent meets an absent engine for a few heartbeats
    docker_ensure(daemon.token)
    assert docker_answers()


def test_agent_reconciles_after_a_dockerd_restart(
    platform_stack: Stack, owner: Credentials, restartable_dockerd: Dockerd
) -> None:
    stack = platform_stack
    names = sessions_create_burst(stack, owner, 2, "dockerd")
    before = wait_for_verdicts(names, 60, stack)
    assert all(s.status == SessionStatus.RUNNING for s in before.values()), before
    assert execute(stack, owner, names[0], "print(6 * 7)") == "42\n"

    dockerd_restart(restartable_dockerd)

    # each old kernel either survived (RUNNING with its container) or ended with a reason;
    # the invariants say the database and the engine agree on which
    wait_for(
        lambda: not running_kernels_without_a_live_container(names),
        45,
        "the agent to reconcile its kernels with the engine",
    )
    after = wait_for_verdicts(names, 30, stack)
    assert_errors_have_reasons(after.values())
    wait_for_invariants([stack.agent_id], timeout=30)

    fresh = f"dockerd-after-{names[0].rsplit('-', 1)[-1]}"
    status, body = session_create(stack, owner, fresh, enqueue_only=False)
    assert status in (200, 201), (status, body, stack.logs())
    assert execute(stack, owner, fresh, "print('engine back')") == "engine back\n"

    sessions_destroy_all(stack, owner, [*names, fresh])
    wait_for_invariants([stack.agent_id], timeout=30)
    assert agent_containers(stack.agent_id) == {}
