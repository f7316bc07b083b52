"""What every sequencer shares: the protocol and the FIFO/LIFO keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from .types import PendingSession


def fifo_key(session: PendingSession) -> tuple[int, float, str]:
    return (-session.priority, session.created_at.timestamp(), str(session.id))


def lifo_key(session: PendingSession) -> tuple[int, float, str]:
    return (-session.priority, -session.created_at.timestamp(), str(session.id))


class Sequencer:
    """An iterator with feedback: `next_session()` gives the next session to try and
    `placed(session, slots)` tells it what was placed; `explain(session_id)` is what the
    sequencer wants the session's verdict to show (None: nothing)."""

    def next_session(self) -> PendingSession | None:
        raise NotImplementedError

    def placed(self, session: PendingSession, slots: Mapping[str, int]) -> None:
        return None

    def explain(self, session_id: UUID) -> dict[str, Any] | None:
        return None
