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

pytestmark = [pytest.mark.docker]


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def dockerd_pid() -> int | None:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    return int(found.split()[0]) if found.split() else None


def docker_ensure() -> None:
    """Start dockerd as the setup does; in a session of its own so no test clean-up that
    signals this process group reaches the daemon."""
    subprocess.run(
        [str(REPO_ROOT / "scripts" / "ensure_docker.sh")],
        check=True, timeout=120, start_new_session=True,
    )  # fmt: skip


@pytest.fixture
def restartable_dockerd() -> Iterator[int]:
    pid = dockerd_pid()
    require(pid is not None, "dockerd is not a process here to restart (remote engine?)")
    require(os.geteuid() == 0, "restarting dockerd needs root")
    assert pid is not None
    try:
        yield pid
    finally:
        if not docker_answers():
            docker_ensure()


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


def dockerd_restart(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.2)
    assert not os.path.exists(f"/proc/{pid}"), "dockerd did not stop within 60 s"
    time.sleep(2)  # the agent meets an absent engine for a few heartbeats
    docker_ensure()
    assert docker_answers()


def test_agent_reconciles_after_a_dockerd_restart(
    platform_stack: Stack, owner: Credentials, restartable_dockerd: int
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
