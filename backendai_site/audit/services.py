"""Writes of the audit log: append one entry, purge the ones past retention. Nothing updates a
row."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from backendai_site.common.errors import clip_text

from .enums import AuditOutcome
from .models import ACTION_MAX, PATH_MAX, TARGET_ID_MAX, AuditLogEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditActor:
    """Who made the request, copied from the user and keypair at write time."""

    user_id: uuid.UUID | None = None
    email: str = ""
    role: str = ""
    domain_name: str = ""
    access_key: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One mutating request as the middleware saw it."""

    request_id: str
    actor: AuditActor
    remote_addr: str | None
    acting_as_access_key: str
    acting_as_email: str
    action: str
    view_name: str
    target_type: str
    target_id: str
    status_code: int
    method: str
    path: str
    outcome: AuditOutcome | None = None  # None: derived from the status code


def audit_entry_record(*, event: AuditEvent) -> AuditLogEntry:
    """Append `event` (in a savepoint of its own, so a failure leaves an enclosing transaction
    usable). Values longer than their columns are cut."""
    actor = event.actor
    entry = AuditLogEntry(
        request_id=event.request_id,
        user_id=actor.user_id,
        user_email=actor.email,
        role=actor.role,
        domain_name=actor.domain_name,
        access_key=actor.access_key,
        remote_addr=event.remote_addr or None,
        acting_as_access_key=event.acting_as_access_key[:64],
        acting_as_email=event.acting_as_email[:254],
        action=clip_text(event.action, ACTION_MAX),
        view_name=clip_text(event.view_name, ACTION_MAX),
        target_type=event.target_type[:64],
        target_id=clip_text(event.target_id, TARGET_ID_MAX),
        outcome=event.outcome or AuditOutcome.from_status(event.status_code),
        status_code=event.status_code,
        method=event.method[:8],
        path=clip_text(event.path, PATH_MAX),
    )
    with transaction.atomic():
        entry.save(force_insert=True)
    return entry


def audit_entries_purge(
    *, retention_days: int, batch_size: int, now: datetime | None = None
) -> int:
    """Delete entries older than `retention_days`, `batch_size` rows per statement (each its
    own transaction, oldest first), until none is left; the number deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=retention_days)
    deleted = 0
    while True:
        batch = list(
            AuditLogEntry.objects.filter(at__lt=cutoff)
            .order_by("at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not batch:
            break
        count, _ = AuditLogEntry.objects.filter(id__in=batch).delete()
        deleted += count
        if len(batch) < batch_size:
            break
    log.info(
        "audit log purged",
        extra={"deleted": deleted, "cutoff": cutoff.isoformat(), "retention_days": retention_days},
    )
    return deleted
