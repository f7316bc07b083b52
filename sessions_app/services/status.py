"""The one way a session or kernel changes status: legal moves only, with history and events.

Every change is a conditional UPDATE (`WHERE status = <the status we saw>`), so two workers racing
on the same row cannot both apply a move; the loser re-reads and re-checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from sessions_app.enums import (
    KERNEL_TRANSITIONS,
    SESSION_TRANSITIONS,
    KernelStatus,
    SessionStatus,
)
from sessions_app.errors import IllegalStatusTransition
from sessions_app.models import Kernel, Session, SessionStatusHistory

from .callbacks import session_callback_schedule
from .events import kernel_event_for_status, session_event_for_status, session_event_publish
from .usage import usage_record_hint

log = logging.getLogger(__name__)


def _notify_callback(
    session: Session, *, event: str | None, to: SessionStatus, reason: str, now: datetime
) -> None:
    if not session.callback_url:
        return
    session_callback_schedule(
        session_id=str(session.pk),
        callback_url=session.callback_url,
        payload={
            "type": "session_lifecycle",
            "event": event or f"session_{to.lower()}",
            "session_id": str(session.pk),
            "session_name": session.name,
            "status": to,
            "reason": reason,
            "when": now.isoformat(),
        },
    )


def session_transition(
    *,
    session: Session,
    to: SessionStatus,
    reason: str = "",
    status_data: dict[str, Any] | None = None,
    extra_fields: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Move `session` to `to`. Returns False when it already is there (idempotent no-op).

    Raises IllegalStatusTransition for a move the status machine forbids.
    """
    now = now or timezone.now()
    for _ in range(5):
        current = SessionStatus(session.status)
        if current == to:
            return False
        if to not in SESSION_TRANSITIONS[current]:
            raise IllegalStatusTransition(
                f"session {session.id}: {current} -> {to} is not allowed",
                data={"from": current, "to": to},
            )
        fields: dict[str, Any] = {"status": to, "status_info": reason[:64], "status_changed": now}
        if status_data is not None:
            fields["status_data"] = status_data
        if to in SessionStatus.terminal() or to == SessionStatus.ERROR:
            fields.setdefault("terminated_at", now)
        fields.update(extra_fields or {})
        with transaction.atomic():
            updated = Session.objects.filter(pk=session.pk, status=current).update(**fields)
            if updated:
                SessionStatusHistory.objects.create(
                    session=session, status=to, reason=reason[:255], at=now
                )
                for key, value in fields.items():
                    setattr(session, key, value)
                event = session_event_for_status(to)
                if event is not None:
                    session_event_publish(event, session=session, reason=reason)
                _notify_callback(session, event=event, to=to, reason=reason, now=now)
                log.info(
                    "session status",
                    extra={
                        "session_id": str(session.pk),
                        "from": current,
                        "to": to,
                        "reason": reason,
                    },
                )
                return True
        session.refresh_from_db(fields=["status", "status_info", "status_data", "status_changed"])
    raise IllegalStatusTransition(f"session {session.id}: status kept changing under us")


def sessions_transition_bulk(
    *,
    session_ids: Iterable[UUID],
    expected: SessionStatus,
    to: SessionStatus,
    reason: str,
    now: datetime | None = None,
) -> list[UUID]:
    """Move many sessions that are still in `expected` to `to` in three queries.

    Returns the ids that moved. Used by the scheduler for PENDING -> SCHEDULED/CANCELLED.
    """
    if to not in SESSION_TRANSITIONS[expected]:
        raise IllegalStatusTransition(f"{expected} -> {to} is not allowed")
    now = now or timezone.now()
    ids = list(session_ids)
    with transaction.atomic():
        moved = list(
            Session.objects.filter(pk__in=ids, status=expected)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        Session.objects.filter(pk__in=moved).update(
            status=to, status_info=reason[:64], status_changed=now
        )
        SessionStatusHistory.objects.bulk_create(
            SessionStatusHistory(session_id=pk, status=to, reason=reason[:255], at=now)
            for pk in moved
        )
        event = session_event_for_status(to)
        if event is not None and moved:
            for session in Session.objects.filter(pk__in=moved).select_related("access_key"):
                session_event_publish(event, session=session, reason=reason)
                _notify_callback(session, event=event, to=to, reason=reason, now=now)
    return moved


def kernel_transition(
    *,
    kernel: Kernel,
    to: KernelStatus,
    reason: str = "",
    extra_fields: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    """Move `kernel` to `to`; same contract as `session_transition`."""
    now = now or timezone.now()
    for _ in range(5):
        current = KernelStatus(kernel.status)
        if current == to:
            return False
        if to not in KERNEL_TRANSITIONS[current]:
            raise IllegalStatusTransition(
                f"kernel {kernel.id}: {current} -> {to} is not allowed",
                data={"from": current, "to": to},
            )
        fields: dict[str, Any] = {"status": to, "status_info": reason[:64], "status_changed": now}
        if to in KernelStatus.dead():
            fields.setdefault("terminated_at", now)
        fields.update(extra_fields or {})
        with transaction.atomic():
            if Kernel.objects.filter(pk=kernel.pk, status=current).update(**fields):
                for key, value in fields.items():
                    setattr(kernel, key, value)
                event = kernel_event_for_status(to)
                if event is not None:
                    session_event_publish(
                        event, session=kernel.session, kernel=kernel, reason=reason
                    )
                if to in KernelStatus.dead() and kernel.started_at is not None:
                    usage_record_hint(kernel_id=kernel.pk)
                return True
        kernel.refresh_from_db(fields=["status", "status_info", "status_changed"])
    raise IllegalStatusTransition(f"kernel {kernel.id}: status kept changing under us")


_KERNELS_SCHEDULE_SQL = f"""
UPDATE {Kernel._meta.db_table} AS k
SET agent_id = v.agent_id, occupied_slots = v.slots, holds_resources = true,
    status = %s, status_info = %s, status_changed = %s
FROM unnest(%s::uuid[], %s::text[], %s::jsonb[]) AS v(id, agent_id, slots)
WHERE k.id = v.id AND k.status = %s
RETURNING k.id
"""


def kernels_schedule_bulk(
    *,
    kernel_ids: list[UUID],
    agent_ids: list[str],
    slots_json: list[str],
    reason: str,
    now: datetime,
) -> set[UUID]:
    """Place PENDING kernels on agents (PENDING -> SCHEDULED, holding `slots_json`) in one query;
    the caller reserved the capacity. Returns the ids that were still PENDING and moved."""
    assert KernelStatus.SCHEDULED in KERNEL_TRANSITIONS[KernelStatus.PENDING]
    with connection.cursor() as cursor:
        cursor.execute(
            _KERNELS_SCHEDULE_SQL,
            [KernelStatus.SCHEDULED.value, reason[:64], now, kernel_ids, agent_ids, slots_json,
             KernelStatus.PENDING.value],
        )  # fmt: skip
        return {row[0] for row in cursor.fetchall()}


def kernels_cancel_bulk(*, session_ids: Iterable[UUID], reason: str, now: datetime) -> int:
    """Cancel the PENDING kernels of sessions the scheduler cancelled (they hold nothing)."""
    assert KernelStatus.CANCELLED in KERNEL_TRANSITIONS[KernelStatus.PENDING]
    return Kernel.objects.filter(
        session_id__in=list(session_ids), status=KernelStatus.PENDING
    ).update(
        status=KernelStatus.CANCELLED,
        status_info=reason[:64],
        status_changed=now,
        terminated_at=now,
    )
