"""`kill -9` of the agent during a burst of creates, then its restart: every session ends
RUNNING (re-adopted, or re-sent its create) or explicitly ERROR with a reason, none stays in a
transient status, and the bookkeeping invariants hold before and after destroying them all."""

from __future__ import annotations

import time

import pytest

from agents_app.enums import AgentStatus
from agents_app.models import Agent
from sessions_app.enums import SessionStatus
from tests.helpers.credentials import Credentials
from tests.helpers.fault_sessions import (
    assert_errors_have_reasons,
    kernels_in_progress,
    sessions_create_burst,
    sessions_destroy_all,
    wait_for_verdicts,
)
from tests.helpers.invariants import agent_containers, wait_for_invariants
from tests.helpers.stack import Stack
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker]


def test_agent_killed_during_a_burst_of_creates(platform_stack: Stack, owner: Credentials) -> None:
    stack = platform_stack

    names = sessions_create_burst(stack, owner, 6, "agentkill")
    wait_for(lambda: kernels_in_progress(names) >= 1, 30, "the agent to be creating kernels")
    stack.kill("agent")
    time.sleep(2)  # heartbeats stop; creates queued meanwhile wait for the next boot
    stack.restart("agent")
    wait_for(
        lambda: Agent.objects.filter(pk=stack.agent_id, status=AgentStatus.ALIVE).exists(),
        30,
        "the agent to register again",
    )

    sessions = wait_for_verdicts(names, 75, stack)
    assert_errors_have_reasons(sessions.values())
    # the agent had room for all six: a create the crash cut short is placed again, not lost
    assert all(s.status == SessionStatus.RUNNING for s in sessions.values()), {
        s.name: (s.status, s.status_info) for s in sessions.values()
    }
    wait_for_invariants([stack.agent_id], timeout=30)

    sessions_destroy_all(stack, owner, names)
    wait_for_invariants([stack.agent_id], timeout=30)
    assert agent_containers(stack.agent_id) == {}
