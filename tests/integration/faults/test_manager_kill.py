"""`kill -9` of the manager worker (its beat and pool with it), twice: right after a burst of
creates (their scheduling pass rolls back or never runs) and while the agent starts what a pass
placed (its events wait with no worker). After each restart beat's scheduler backstop and the
coordinator catch up on what the dead worker dropped, the pass lock died with the worker's
connection so sessions created while it was down and after are placed, nothing is allocated
twice, and every session ends RUNNING."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel
from tests.helpers.credentials import Credentials
from tests.helpers.fault_sessions import (
    sessions_create_burst,
    sessions_destroy_all,
    statuses,
    wait_for_verdicts,
)
from tests.helpers.invariants import agent_containers, wait_for_invariants
from tests.helpers.stack import Stack
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker]


def test_manager_worker_killed_while_scheduling(platform_stack: Stack, owner: Credentials) -> None:
    stack = platform_stack

    names = sessions_create_burst(stack, owner, 3, "mgrkill")
    # the creates' scheduling hint is queued or its pass is running: it rolls back or never runs
    stack.kill("manager")
    stack.restart("manager")
    # beat's backstop placed them and the agent is starting them: the worker is taking events
    wait_for(
        lambda: any(s != SessionStatus.PENDING for s in statuses(names).values()),
        45,
        "a scheduler pass after the restart",
    )
    stack.kill("manager")
    killed_at = statuses(names)
    time.sleep(2)  # creates and agent events pile up with no worker to take them
    names += sessions_create_burst(stack, owner, 1, "mgrkill-down")
    stack.restart("manager")
    names += sessions_create_burst(stack, owner, 1, "mgrkill-after")

    sessions = wait_for_verdicts(names, 75, stack)
    assert all(s.status == SessionStatus.RUNNING for s in sessions.values()), (
        killed_at,
        {s.name: (s.status, s.status_info) for s in sessions.values()},
    )
    kernels = list(Kernel.objects.filter(session__name__in=names).values_list("pk", flat=True))
    assert len(kernels) == len(names), "a session got more than one kernel"
    per_kernel = Counter(agent_containers(stack.agent_id).values())
    assert {str(k) for k in kernels} == set(per_kernel), per_kernel
    assert max(per_kernel.values()) == 1, f"a kernel was created twice: {per_kernel}"
    wait_for_invariants([stack.agent_id], timeout=30)

    sessions_destroy_all(stack, owner, names)
    wait_for_invariants([stack.agent_id], timeout=30)
    assert agent_containers(stack.agent_id) == {}
