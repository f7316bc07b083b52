"""After-commit callbacks for sessions a pass scheduled (the session services start them).

    from sessions_app.scheduler.hooks import on_sessions_scheduled

    @on_sessions_scheduled
    def _start(session_ids: Sequence[UUID]) -> None: ...

Callbacks run after the pass's transaction committed, in registration order; one that raises is
logged and does not stop the others (the sessions stay SCHEDULED, and the coordinator starts
them after `coordinator.scheduled_timeout`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from uuid import UUID

log = logging.getLogger(__name__)

ScheduledCallback = Callable[[Sequence[UUID]], None]

_callbacks: list[ScheduledCallback] = []


def on_sessions_scheduled(callback: ScheduledCallback) -> ScheduledCallback:
    """Register `callback(session_ids)`; registering the same function twice is a no-op."""
    if callback not in _callbacks:
        _callbacks.append(callback)
    return callback


def remove_sessions_scheduled(callback: ScheduledCallback) -> None:
    if callback in _callbacks:
        _callbacks.remove(callback)


def sessions_scheduled_notify(session_ids: Sequence[UUID], *, resource_group_id: int) -> None:
    """Call every registered callback with `session_ids` (no-op for an empty list)."""
    if not session_ids:
        return
    for callback in list(_callbacks):
        try:
            callback(session_ids)
        except Exception:
            log.exception(
                "sessions-scheduled callback failed",
                extra={"resource_group": resource_group_id, "callback": repr(callback)},
            )


PendingCallback = Callable[..., int]
"""`callback(resource_group_id=..., count=...)`: `count` sessions wait for room after a pass."""

_pending_callbacks: list[PendingCallback] = []


def on_sessions_left_pending(callback: PendingCallback) -> PendingCallback:
    """Register a callback told how many sessions a pass left waiting for capacity (warm pools
    evict pooled kernels for them)."""
    if callback not in _pending_callbacks:
        _pending_callbacks.append(callback)
    return callback


def sessions_left_pending_notify(*, resource_group_id: int, count: int) -> None:
    if count <= 0:
        return
    for callback in list(_pending_callbacks):
        try:
            callback(resource_group_id=resource_group_id, count=count)
        except Exception:
            log.exception(
                "sessions-left-pending callback failed",
                extra={"resource_group": resource_group_id, "callback": repr(callback)},
            )
