"""Fixtures of the manager metric tests: agent commands recorded instead of sent."""

from __future__ import annotations

from typing import Any

import pytest

from sessions_app.services import lifecycle
from tests.helpers.lifecycle import Sent


@pytest.fixture
def sent_commands(monkeypatch: pytest.MonkeyPatch) -> Sent:
    sent: Sent = []

    def record(*, agent_id: str, command: str, payload: Any) -> None:
        sent.append((agent_id, command, payload))

    monkeypatch.setattr(lifecycle, "agent_command_send", record)
    return sent
