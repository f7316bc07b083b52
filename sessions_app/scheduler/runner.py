"""The scheduler pass of one resource group: lock, snapshot, plan, commit, notify."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from agents_app.models import ResourceGroup
from backendai_site.common.redis import get_redis
from backendai_site.metrics import manager as metrics

from .allocation import plan_commit
from .hints import dirty_key
from .hooks import sessions_left_pending_notify, sessions_scheduled_notify
from .planner import plan_pass
from .snapshot import roundrobin_save, snapshot_load
from .validators import VERDICT_INSUFFICIENT_CAPACITY

log = logging.getLogger(__name__)

MAX_ROUNDS = 3
DIRTY_TTL_SECONDS = 60


@dataclass(slots=True)
class PassReport:
    resource_group_id: int
    ran: bool = False
    """False when another pass held the group's lock (it will re-run for us)."""
    rounds: int = 0
    scheduled: list[UUID] = field(default_factory=list)
    cancelled: list[UUID] = field(default_factory=list)
    pending: int = 0
    short_of_capacity: int = 0
    """Of `pending`, the sessions no agent had room for (warm pools may evict for them)."""
    verdicts_written: int = 0
    plan_seconds: float = 0.0
    total_seconds: float = 0.0


def _lock(resource_group_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"bai:scheduler:{resource_group_id}"],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _dirty_set(resource_group_id: int) -> None:
    try:
        get_redis().set(dirty_key(resource_group_id), b"1", ex=DIRTY_TTL_SECONDS)
    except Exception:
        log.warning("scheduler dirty flag not set", extra={"resource_group": resource_group_id})


def _dirty_take(resource_group_id: int) -> bool:
    """Clear the flag; True when it was set."""
    try:
        return bool(get_redis().delete(dirty_key(resource_group_id)))
    except Exception:
        return False


def schedule_resource_group(
    resource_group_id: int, *, now: datetime | None = None, max_rounds: int = MAX_ROUNDS
) -> PassReport:
    """Run the scheduler pass for one group. Returns at once when another pass holds the lock.

    Must not be called inside an outer transaction that others wait on: the pass commits its
    own transaction and then calls the `on_sessions_scheduled` hooks.
    """
    report = PassReport(resource_group_id=resource_group_id)
    started = time.perf_counter()
    _dirty_set(resource_group_id)  # before trying the lock: the holder will see it
    for _ in range(max_rounds):
        with transaction.atomic():
            if not _lock(resource_group_id):
                log.debug("scheduler pass busy", extra={"resource_group": resource_group_id})
                break
            _dirty_take(resource_group_id)
            report.ran = True
            report.rounds += 1
            pass_now = now or timezone.now()
            snapshot = snapshot_load(resource_group_id=resource_group_id, now=pass_now)
            if not snapshot.sessions:
                report.short_of_capacity = 0
                metrics.scheduler_round_observe(snapshot=snapshot, plan=None, result=None)
                break
            plan_started = time.perf_counter()
            plan = plan_pass(snapshot)
            report.plan_seconds += time.perf_counter() - plan_started
            result = plan_commit(snapshot=snapshot, plan=plan, now=pass_now)
            report.scheduled += result.scheduled
            report.cancelled += result.cancelled
            report.pending = len(plan.pending) + len(result.refused)
            report.short_of_capacity = len(result.refused) + sum(
                1 for _, verdict in plan.pending if verdict.code == VERDICT_INSUFFICIENT_CAPACITY
            )
            report.verdicts_written += result.verdicts_written
            metrics.scheduler_round_observe(snapshot=snapshot, plan=plan, result=result)
            scheduled = list(result.scheduled)
            rr_state = dict(plan.roundrobin_next)

            def _after_commit(
                scheduled: list[UUID] = scheduled, rr_state: dict[str, int] = rr_state
            ) -> None:
                roundrobin_save(resource_group_id, rr_state)
                sessions_scheduled_notify(scheduled, resource_group_id=resource_group_id)

            transaction.on_commit(_after_commit)
        log.info(
            "scheduler pass",
            extra={
                "resource_group": resource_group_id,
                "scheduled": len(result.scheduled),
                "pending": report.pending,
                "cancelled": len(result.cancelled),
                "refused": len(result.refused),
            },
        )
        if not _dirty_take(resource_group_id):
            break
    report.total_seconds = time.perf_counter() - started
    if report.ran:
        sessions_left_pending_notify(
            resource_group_id=resource_group_id, count=report.short_of_capacity
        )
    if report.ran:
        metrics.scheduler_pass_observe(
            resource_group_id=resource_group_id, seconds=report.total_seconds
        )
    return report


def active_resource_group_ids() -> list[int]:
    return list(ResourceGroup.objects.filter(is_active=True).values_list("pk", flat=True))


def schedule_all_resource_groups() -> list[PassReport]:
    """The beat backstop: one pass per active group (each skips at once when busy)."""
    return [schedule_resource_group(group_id) for group_id in active_resource_group_ids()]
