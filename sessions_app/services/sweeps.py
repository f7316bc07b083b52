"""Periodic, idempotent sweeps run by beat: batch timeouts."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from sessions_app.enums import SessionResult, SessionStatus, SessionType
from sessions_app.models import Session

from .events import session_event_publish
from .lifecycle import session_destroy

log = logging.getLogger(__name__)


def batch_timeouts_enforce(*, now: datetime | None = None) -> list[str]:
    """End running batch sessions that outlived their `batch_timeout` (result FAILURE)."""
    now = now or timezone.now()
    candidates = Session.objects.filter(
        session_type=SessionType.BATCH,
        status__in=SessionStatus.running(),
        batch_timeout__isnull=False,
        batch_timeout__gt=0,
    ).select_related("access_key")
    ended: list[str] = []
    for session in candidates:
        running_since = (
            session.history.filter(status=SessionStatus.RUNNING)
            .order_by("at")
            .values_list("at", flat=True)
            .first()
        ) or session.created_at
        if now - running_since < timedelta(seconds=session.batch_timeout or 0):
            continue
        updated = Session.objects.filter(pk=session.pk, result=SessionResult.UNDEFINED).update(
            result=SessionResult.FAILURE
        )
        if updated:
            session_event_publish("session_failure", session=session, reason="batch-timeout")
        session_destroy(session=session, reason="batch-timeout")
        ended.append(str(session.pk))
        log.info("batch timeout", extra={"session_id": str(session.pk)})
    return ended


__all__ = ["batch_timeouts_enforce"]
