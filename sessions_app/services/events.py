"""Session and kernel lifecycle events, published to Redis after the transaction commits.

Each event goes to the session's channel `bai:events:session:<id>` (what `GET /events/session`
streams) and is also appended to a short per-session list so a listener that connects late can
replay what already happened (`backend.ai events` often starts after the create returned).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction

from backendai_site.common.redis import get_redis
from sessions_app.enums import KernelStatus, SessionStatus

if TYPE_CHECKING:
    from sessions_app.models import Kernel, Session

log = logging.getLogger(__name__)

EVENT_REPLAY_LENGTH = 200
EVENT_REPLAY_TTL_SECONDS = 3600

_SESSION_EVENTS: dict[SessionStatus, str] = {
    SessionStatus.PENDING: "session_enqueued",
    SessionStatus.SCHEDULED: "session_scheduled",
    SessionStatus.RUNNING: "session_started",
    SessionStatus.TERMINATING: "session_terminating",
    SessionStatus.TERMINATED: "session_terminated",
    SessionStatus.CANCELLED: "session_cancelled",
    SessionStatus.ERROR: "session_failure",
}
_KERNEL_EVENTS: dict[KernelStatus, str] = {
    KernelStatus.PREPARING: "kernel_preparing",
    KernelStatus.PULLING: "kernel_pulling",
    KernelStatus.CREATING: "kernel_creating",
    KernelStatus.RUNNING: "kernel_started",
    KernelStatus.TERMINATING: "kernel_terminating",
    KernelStatus.TERMINATED: "kernel_terminated",
    KernelStatus.CANCELLED: "kernel_cancelled",
}


def session_event_for_status(status: SessionStatus) -> str | None:
    return _SESSION_EVENTS.get(status)


def kernel_event_for_status(status: KernelStatus) -> str | None:
    return _KERNEL_EVENTS.get(status)


def session_channel(session_id: object) -> str:
    return f"bai:events:session:{session_id}"


def session_replay_key(session_id: object) -> str:
    return f"bai:events:replay:{session_id}"


def session_event_payload(
    name: str,
    *,
    session: Session,
    kernel: Kernel | None = None,
    reason: str = "",
    exit_code: int | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sessionId": str(session.pk),
        "sessionName": session.name,
        "ownerAccessKey": session.access_key_id,
        "reason": reason,
        "exitCode": exit_code,
    }
    if kernel is not None:
        data.update(
            kernelId=str(kernel.pk),
            clusterRole=kernel.cluster_role,
            clusterIdx=kernel.cluster_idx,
        )
    return {"event": name, "data": data}


def session_event_publish(
    name: str,
    *,
    session: Session,
    kernel: Kernel | None = None,
    reason: str = "",
    exit_code: int | None = None,
) -> None:
    """Publish one event once the current transaction commits (immediately outside one)."""
    message = json.dumps(
        session_event_payload(
            name, session=session, kernel=kernel, reason=reason, exit_code=exit_code
        )
    )
    session_id = session.pk

    def send() -> None:
        try:
            client = get_redis()
            pipe = client.pipeline(transaction=False)
            pipe.rpush(session_replay_key(session_id), message)
            pipe.ltrim(session_replay_key(session_id), -EVENT_REPLAY_LENGTH, -1)
            pipe.expire(session_replay_key(session_id), EVENT_REPLAY_TTL_SECONDS)
            pipe.publish(session_channel(session_id), message)
            pipe.execute()
        except Exception:  # events are best-effort; the status itself is already committed
            log.exception("event publish failed", extra={"session_id": str(session_id)})

    transaction.on_commit(send)
