"""The status coordinator: every transient status has a handler, so nothing stays there.

The API and the agents' events move sessions on; this loop (beat, every `coordinator.interval`,
one run at a time under a PostgreSQL advisory lock) covers what a lost message, a dead process or
a silent agent left behind:

- SCHEDULED longer than `scheduled_timeout`: the start hook did not run; start it (sends
  `create_kernel`).
- PREPARING/PREPARED/CREATING (PULLING: `pull_timeout`) without progress for `start_timeout`:
  re-send `create_kernel` (the agent answers a redelivered create without creating twice), up to
  `start_attempts` sends; then the session ends in ERROR (`start-timeout`) and the agent is asked
  to remove whatever it made.
- RESTARTING longer than `restart_timeout`: ERROR (`restart-timeout`).
- TERMINATING, and dead kernels still holding capacity: re-send `destroy_kernel` every
  `terminate_timeout` until the agent confirms; its capacity is released only then.
- kernels on a LOST agent: finished and released (the agent-lost handler run again).
- a TERMINATING session whose kernels all ended: TERMINATED; an ERROR session's live kernels:
  stopped.

A kernel on an agent that is neither ALIVE nor LOST (restarting, shut down) waits: the agent
re-adopts or reports its containers when it comes back, or the LOST sweep ends them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from agents_app.enums import AgentStatus
from agents_app.schemas import AgentLost
from backendai_site.config import CoordinatorSection, get_config
from backendai_site.metrics.manager import coordinator_run_observe
from sessions_app.enums import KernelStatus, SessionStatus
from sessions_app.models import Kernel, Session

from . import lifecycle

log = logging.getLogger(__name__)

LOCK_NAME = "bai:coordinator"
START_TIMEOUT_REASON = "start-timeout"
RESTART_TIMEOUT_REASON = "restart-timeout"
RELEASE_CHECK_REASON = "release-check"


@dataclass(slots=True)
class CoordinatorReport:
    ran: bool = False
    """False when another run held the lock."""
    started: list[UUID] = field(default_factory=list)
    create_resent: list[UUID] = field(default_factory=list)
    gave_up: list[UUID] = field(default_factory=list)
    destroy_resent: list[UUID] = field(default_factory=list)
    lost_agents: list[str] = field(default_factory=list)
    settled: list[UUID] = field(default_factory=list)


@contextmanager
def _coordinator_lock() -> Iterator[bool]:
    """A session-level advisory lock: held across the handlers' own short transactions, and
    released by PostgreSQL when a killed worker's connection drops."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [LOCK_NAME])
        row = cursor.fetchone()
    held = bool(row and row[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [LOCK_NAME])


def sessions_coordinate(*, now: datetime | None = None) -> CoordinatorReport:
    """One run of every status handler. Idempotent; returns at once when another run is busy."""
    now = now or timezone.now()
    config = get_config().coordinator
    report = CoordinatorReport()
    with _coordinator_lock() as held:
        if not held:
            return report
        report.ran = True
        _lost_agents(report)
        _scheduled(report, config=config, now=now)
        _starting(report, config=config, now=now)
        _restarting(report, config=config, now=now)
        _terminating(report, config=config, now=now)
        _sessions_settle(report, config=config, now=now)
    coordinator_run_observe(report)
    if any((report.create_resent, report.gave_up, report.destroy_resent, report.lost_agents)):
        log.info(
            "coordinator run",
            extra={
                "started": len(report.started),
                "create_resent": len(report.create_resent),
                "gave_up": [str(k) for k in report.gave_up],
                "destroy_resent": len(report.destroy_resent),
                "lost_agents": report.lost_agents,
                "settled": len(report.settled),
            },
        )
    return report


# --- handlers ----------------------------------------------------------------------------------


def _lost_agents(report: CoordinatorReport) -> None:
    agent_ids = list(
        Kernel.objects.filter(agent__status=AgentStatus.LOST)
        .filter(Q(holds_resources=True) | ~Q(status__in=KernelStatus.terminal()))
        .values_list("agent_id", flat=True)
        .distinct()
    )
    for agent_id in agent_ids:
        if agent_id is None:
            continue
        lifecycle.on_agent_lost(AgentLost(agent_id=agent_id, lost_at=timezone.now()))
        report.lost_agents.append(agent_id)


def _scheduled(report: CoordinatorReport, *, config: CoordinatorSection, now: datetime) -> None:
    cutoff = now - timedelta(seconds=config.scheduled_timeout)
    ids = list(
        Session.objects.filter(status=SessionStatus.SCHEDULED, status_changed__lt=cutoff)
        .order_by("status_changed")
        .values_list("pk", flat=True)[: config.batch_size]
    )
    if ids:
        lifecycle.sessions_start(ids)
        report.started += ids


def _last_action(kernel: Kernel) -> tuple[datetime | None, int]:
    """When the coordinator (or the status change) last acted on the kernel's current status,
    and how many re-sends it made in it."""
    data: dict[str, Any] = kernel.coordination or {}
    if data.get("status") == kernel.status and data.get("at"):
        return datetime.fromisoformat(str(data["at"])), int(data.get("attempts", 0))
    return kernel.status_changed, 0


def _record_attempt(kernel: Kernel, *, attempts: int, now: datetime) -> None:
    """Count a re-send for the kernel's current status (only while the status is unchanged)."""
    Kernel.objects.filter(pk=kernel.pk, status=kernel.status).update(
        coordination={"status": kernel.status, "attempts": attempts, "at": now.isoformat()}
    )


def _due(kernel: Kernel, timeout: float, now: datetime) -> tuple[bool, int]:
    last, attempts = _last_action(kernel)
    return last is None or now - last >= timedelta(seconds=timeout), attempts


def _starting(report: CoordinatorReport, *, config: CoordinatorSection, now: datetime) -> None:
    kernels = (
        Kernel.objects.filter(
            status__in=KernelStatus.starting() - {KernelStatus.SCHEDULED},
            session__status__in=SessionStatus.starting(),
            agent__status=AgentStatus.ALIVE,
        )
        .select_related("agent")
        .order_by("status_changed")[: config.batch_size]
    )
    for kernel in kernels:
        timeout = (
            config.pull_timeout if kernel.status == KernelStatus.PULLING else config.start_timeout
        )
        due, attempts = _due(kernel, timeout, now)
        if not due:
            continue
        # the first create was sent on entering the status: `attempts` counts the re-sends
        if attempts + 1 < config.start_attempts:
            with transaction.atomic():
                _record_attempt(kernel, attempts=attempts + 1, now=now)
                lifecycle.kernel_create_resend(kernel)
            report.create_resent.append(kernel.pk)
            log.warning(
                "kernel start re-sent",
                extra={
                    "kernel_id": str(kernel.pk),
                    "agent_id": kernel.agent_id,
                    "status": kernel.status,
                    "attempt": attempts + 2,
                },
            )
            continue
        detail = (
            f"No progress in {kernel.status} after {config.start_attempts} create_kernel sends "
            f"to agent {kernel.agent_id}, {timeout:g} s apart."
        )
        if lifecycle.kernel_start_give_up(
            kernel_id=kernel.pk, reason=START_TIMEOUT_REASON, detail=detail
        ):
            report.gave_up.append(kernel.pk)


def _restarting(report: CoordinatorReport, *, config: CoordinatorSection, now: datetime) -> None:
    cutoff = now - timedelta(seconds=config.restart_timeout)
    ids = list(
        Kernel.objects.filter(
            status=KernelStatus.RESTARTING,
            status_changed__lt=cutoff,
            agent__status=AgentStatus.ALIVE,
        ).values_list("pk", flat=True)[: config.batch_size]
    )
    for kernel_id in ids:
        detail = f"The kernel did not come back from a restart in {config.restart_timeout:g} s."
        if lifecycle.kernel_start_give_up(
            kernel_id=kernel_id, reason=RESTART_TIMEOUT_REASON, detail=detail
        ):
            report.gave_up.append(kernel_id)


def _terminating(report: CoordinatorReport, *, config: CoordinatorSection, now: datetime) -> None:
    """TERMINATING kernels, and dead ones whose capacity the agent has not confirmed free."""
    kernels = (
        Kernel.objects.filter(agent__status=AgentStatus.ALIVE)
        .filter(
            Q(status=KernelStatus.TERMINATING)
            | Q(status__in=KernelStatus.dead(), holds_resources=True)
        )
        .order_by("status_changed")[: config.batch_size]
    )
    for kernel in kernels:
        if kernel.pk in report.gave_up:
            continue  # its destroy was sent a moment ago
        due, attempts = _due(kernel, config.terminate_timeout, now)
        if not due:
            continue
        reason = (
            kernel.status_info or "terminating"
            if kernel.status == KernelStatus.TERMINATING
            else RELEASE_CHECK_REASON
        )
        with transaction.atomic():
            _record_attempt(kernel, attempts=attempts + 1, now=now)
            lifecycle.kernel_destroy_resend(kernel, reason=reason)
        report.destroy_resent.append(kernel.pk)
        log.warning(
            "kernel destroy re-sent",
            extra={
                "kernel_id": str(kernel.pk),
                "agent_id": kernel.agent_id,
                "status": kernel.status,
                "attempt": attempts + 2,
            },
        )


def _sessions_settle(
    report: CoordinatorReport, *, config: CoordinatorSection, now: datetime
) -> None:
    cutoff = now - timedelta(seconds=config.terminate_timeout)
    live_kernel = Q(kernels__status__in=set(KernelStatus) - KernelStatus.dead())
    stuck = (
        Session.objects.filter(status_changed__lt=cutoff)
        .filter(
            Q(status=SessionStatus.TERMINATING) & ~live_kernel
            | Q(
                status=SessionStatus.ERROR,
                kernels__status__in=set(KernelStatus)
                - KernelStatus.dead()
                - {KernelStatus.TERMINATING},
            )
        )
        .values_list("pk", flat=True)
        .distinct()[: config.batch_size]
    )
    for session_id in list(stuck):
        if lifecycle.session_settle(session_id=session_id, reason="coordinator"):
            report.settled.append(session_id)


__all__ = ["CoordinatorReport", "sessions_coordinate"]
