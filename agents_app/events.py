"""A small typed dispatcher: how other apps (sessions_app) consume agent and kernel events.

The agents app never imports sessions_app. The sessions app registers its handlers at start-up
(e.g. in its AppConfig.ready):

    from agents_app import events
    from agents_app.schemas import KernelStarted

    def _on_started(event: KernelStarted) -> None: ...

    events.subscribe("kernel_started", _on_started)

    events.set_kernel_ownership_resolver(lambda agent_id, kernel_ids: {...unknown ids...})

Handlers run inside the `events` Celery worker, in the order registered, after the agents app has
recorded what it owns (agent status, capacity). Celery may redeliver, so handlers must be
idempotent. A handler that raises does not stop the others; the first error is re-raised after all
ran so the task fails loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from typing import Any

from .schemas import (
    AgentLost,
    AgentStarted,
    EventName,
    ImagePullResult,
    KernelCommitted,
    KernelCommitUpdated,
    KernelCreationFailed,
    KernelStarted,
    KernelStats,
    KernelTerminated,
    Message,
)

log = logging.getLogger(__name__)

EVENT_MODELS: dict[str, type[Message]] = {
    "kernel_started": KernelStarted,
    "kernel_terminated": KernelTerminated,
    "kernel_creation_failed": KernelCreationFailed,
    "kernel_stats": KernelStats,
    "image_pulled": ImagePullResult,
    "kernel_commit_updated": KernelCommitUpdated,
    "kernel_committed": KernelCommitted,
    "agent_started": AgentStarted,
    "agent_lost": AgentLost,
}

Handler = Callable[[Any], None]
KernelOwnershipResolver = Callable[[str, Sequence[str]], Collection[str]]

_handlers: dict[str, list[Handler]] = {}
_ownership_resolver: KernelOwnershipResolver | None = None


def subscribe(event: EventName, handler: Handler) -> None:
    """Call `handler(payload)` for every `event`; registering the same handler twice is a no-op."""
    if event not in EVENT_MODELS:
        raise ValueError(f"unknown event: {event}")
    bucket = _handlers.setdefault(event, [])
    if handler not in bucket:
        bucket.append(handler)


def unsubscribe(event: EventName, handler: Handler) -> None:
    bucket = _handlers.get(event, [])
    if handler in bucket:
        bucket.remove(handler)


def dispatch(event: EventName, payload: Message) -> None:
    """Deliver `payload` to every handler of `event`."""
    expected = EVENT_MODELS[event]
    if not isinstance(payload, expected):
        raise TypeError(f"{event} carries {expected.__name__}, not {type(payload).__name__}")
    first_error: BaseException | None = None
    for handler in list(_handlers.get(event, ())):
        try:
            handler(payload)
        except Exception as exc:
            log.exception("event handler failed", extra={"event": event, "handler": repr(handler)})
            first_error = first_error or exc
    if first_error is not None:
        raise first_error


def set_kernel_ownership_resolver(resolver: KernelOwnershipResolver | None) -> None:
    """Install the function that says which of an agent's kernel ids the manager does not know.

    `resolver(agent_id, kernel_ids)` returns the subset to destroy. Without a resolver (no
    sessions app yet) nothing is destroyed: an agent's containers are never removed on a guess.
    """
    global _ownership_resolver
    _ownership_resolver = resolver


def unknown_kernel_ids(agent_id: str, kernel_ids: Sequence[str]) -> list[str]:
    """The kernels of `agent_id` the manager does not account for (to be destroyed)."""
    if _ownership_resolver is None or not kernel_ids:
        return []
    unknown = set(_ownership_resolver(agent_id, kernel_ids))
    return [kernel_id for kernel_id in kernel_ids if kernel_id in unknown]
