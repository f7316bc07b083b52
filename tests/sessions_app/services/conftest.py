"""Fixtures of the lifecycle and coordinator tests: agent commands recorded instead of sent, and
a session placed by a real scheduler pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sessions_app.models import Session
from sessions_app.scheduler.runner import schedule_resource_group
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services import lifecycle
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld
from tests.helpers.lifecycle import Sent


@pytest.fixture
def sent_commands(monkeypatch: pytest.MonkeyPatch) -> Sent:
    sent: Sent = []

    def record(*, agent_id: str, command: str, payload: Any) -> None:
        sent.append((agent_id, command, payload))

    monkeypatch.setattr(lifecycle, "agent_command_send", record)
    return sent


@pytest.fixture
def scheduled_session(
    world: ComputeWorld, sent_commands: Sent, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Session:
    """A session placed by a real scheduler pass and started (create_kernel sent)."""
    with django_capture_on_commit_callbacks(execute=True):
        session = session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate(
                {"image": "python", "name": "life1", "enqueueOnly": True, "type": "batch",
                 "startupCommand": "true", "config": {"resources": {"cpu": "1", "mem": "1g"}}}
            ),
        ).session  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        schedule_resource_group(world.group.pk)
    session.refresh_from_db()
    return session


@pytest.fixture
def capture(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[..., Any]:
    """`capture(execute=True)`: run the on-commit callbacks (the agent commands) of a block."""
    return django_capture_on_commit_callbacks
