"""The manager's metrics: the scheduler pass per resource group and the status coordinator.

The scheduler and coordinator each call one function here after their work; the gauges use
prometheus-client's `mostrecent` mode, so under several Celery worker processes the last pass's
value wins whichever process ran it.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from sessions_app.scheduler.validators import VERDICT_INSUFFICIENT_CAPACITY

if TYPE_CHECKING:  # types only: the scheduler imports this module
    from sessions_app.scheduler.allocation import CommitResult
    from sessions_app.scheduler.types import Plan, Snapshot
    from sessions_app.services.coordinator import CoordinatorReport

SCHEDULER_PASS_SECONDS = Histogram(
    "bai_scheduler_pass_duration_seconds",
    "Seconds one scheduler pass of a resource group took (lock, snapshot, plan, commit).",
    ["resource_group"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SCHEDULER_PLACEMENTS = Counter(
    "bai_scheduler_placements", "Sessions the scheduler placed on agents.", ["resource_group"]
)
SCHEDULER_PENDING = Gauge(
    "bai_scheduler_pending_sessions",
    "Sessions left PENDING by the group's last pass.",
    ["resource_group"],
    multiprocess_mode="mostrecent",
)
SCHEDULER_OLDEST_PENDING_SECONDS = Gauge(
    "bai_scheduler_oldest_pending_age_seconds",
    "Age of the oldest session left PENDING by the group's last pass (0 when none waits).",
    ["resource_group"],
    multiprocess_mode="mostrecent",
)
SCHEDULER_VERDICTS = Counter(
    "bai_scheduler_verdicts",
    "Why-pending verdicts given, by code (one per waiting session and pass).",
    ["resource_group", "code"],
)
COORDINATOR_ACTIONS = Counter(
    "bai_coordinator_actions",
    "Status coordinator actions: create_resent and destroy_resent (retries), gave_up "
    "(a session ended in ERROR), lost_agent, settled.",
    ["action"],
)


# group id -> name, as the last snapshot of this process saw it (the pass's own duration is
# observed after its rounds, by id)
_group_names: dict[int, str] = {}


def _group_label(snapshot: Snapshot) -> str:
    name = snapshot.resource_group_name or str(snapshot.resource_group_id)
    _group_names[snapshot.resource_group_id] = name
    return name


def scheduler_round_observe(
    *, snapshot: Snapshot, plan: Plan | None, result: CommitResult | None
) -> None:
    """After one round of a pass: placements, verdicts and what is left waiting. `plan` and
    `result` are None for a round that found nothing pending."""
    group = _group_label(snapshot)
    waiting: list[datetime] = []
    if plan is not None and result is not None:
        SCHEDULER_PLACEMENTS.labels(resource_group=group).inc(len(result.scheduled))
        refused = set(result.refused)
        waiting = [session.created_at for session, _ in plan.pending]
        waiting += [s.created_at for s in snapshot.sessions if s.id in refused]
        for code, count in Tally(verdict.code for _, verdict in plan.pending).items():
            SCHEDULER_VERDICTS.labels(resource_group=group, code=code).inc(count)
        if result.refused:  # capacity changed while placing (allocation._refused_verdict)
            SCHEDULER_VERDICTS.labels(resource_group=group, code=VERDICT_INSUFFICIENT_CAPACITY).inc(
                len(result.refused)
            )
    SCHEDULER_PENDING.labels(resource_group=group).set(len(waiting))
    SCHEDULER_OLDEST_PENDING_SECONDS.labels(resource_group=group).set(
        _oldest_age(waiting, now=snapshot.now)
    )


def _oldest_age(created: Iterable[datetime], *, now: datetime) -> float:
    oldest = min(created, default=None)
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def scheduler_pass_observe(*, resource_group_id: int, seconds: float) -> None:
    group = _group_names.get(resource_group_id, str(resource_group_id))
    SCHEDULER_PASS_SECONDS.labels(resource_group=group).observe(seconds)


def coordinator_run_observe(report: CoordinatorReport) -> None:
    for action, items in (
        ("create_resent", report.create_resent),
        ("destroy_resent", report.destroy_resent),
        ("gave_up", report.gave_up),
        ("lost_agent", report.lost_agents),
        ("settled", report.settled),
    ):
        if items:
            COORDINATOR_ACTIONS.labels(action=action).inc(len(items))
