"""Writes of the manager package: freeze/unfreeze, the announcement, scheduler operations and
the error log. Superadmin-only operations check the role here, not in the views."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from agents_app.models import Agent
from agents_app.services.agents import agents_set_schedulable
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from sessions_app.services.lifecycle import session_destroy

from .enums import ErrorLogSeverity, ManagerStatus, SchedulerOperation
from .errors import AgentsNotFound, ErrorLogNotFound, SuperadminRequired
from .models import ErrorLog, ManagerState
from .schemas import AnnouncementUpdate, ErrorLogAppend, ManagerStatusUpdate
from .selectors import error_logs_clearable_by, error_logs_visible_to, manager_state_get

log = logging.getLogger(__name__)

FORCE_KILL_REASON = "manager-force-kill"
SERVER_ERROR_SOURCE = "manager"
MAX_TRACEBACK_CHARS = 64 * 1024


def _superadmin_check(actor: User, what: str) -> None:
    if actor.role != UserRole.SUPERADMIN:
        raise SuperadminRequired(f"Only a superadmin may {what}.")


def _state_for_update() -> ManagerState:
    state, _ = ManagerState.objects.select_for_update().get_or_create(pk=ManagerState.SINGLETON_PK)
    return state


# --- status ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManagerStatusReport:
    status: str
    active_sessions: int


def manager_status_report() -> ManagerStatusReport:
    """The stored status and how many sessions are live (not terminated, cancelled or in error)."""
    active = Session.objects.exclude(status__in=SessionStatus.dead()).count()
    return ManagerStatusReport(status=manager_state_get().status, active_sessions=active)


def manager_status_update(*, actor: User, update: ManagerStatusUpdate) -> int:
    """Freeze or unfreeze; `force_kill` with a freeze also force-terminates every live session.

    Returns how many sessions were told to terminate. A freeze refuses only new sessions
    (`manager_check_accepts_sessions`); running ones keep running."""
    _superadmin_check(actor, "freeze or unfreeze the manager")
    if update.force_kill and update.status != ManagerStatus.FROZEN:
        raise InvalidAPIParameters("force_kill applies only to freezing the manager.")
    with transaction.atomic():
        state = _state_for_update()
        if state.status != update.status:
            state.status = update.status
            state.status_changed = timezone.now()
            state.save(update_fields=["status", "status_changed", "modified_at"])
    log.warning(
        "manager status set",
        extra={"status": str(update.status), "by": actor.email, "force_kill": update.force_kill},
    )
    if not update.force_kill:
        return 0
    killed = 0
    for session in Session.objects.exclude(status__in=SessionStatus.dead()).order_by("created_at"):
        session_destroy(session=session, forced=True, reason=FORCE_KILL_REASON)
        killed += 1
    return killed


# --- announcement ----------------------------------------------------------------------------


def announcement_update(*, actor: User, update: AnnouncementUpdate) -> None:
    """Post (enabled) or hide (disabled) the announcement; a null message keeps the stored one."""
    _superadmin_check(actor, "change the announcement")
    with transaction.atomic():
        state = _state_for_update()
        message = state.announcement_message if update.message is None else update.message
        if update.enabled and not message.strip():
            raise InvalidAPIParameters("An enabled announcement needs a message.")
        state.announcement_enabled = update.enabled
        state.announcement_message = message
        state.announcement_set = True
        state.save(
            update_fields=[
                "announcement_enabled",
                "announcement_message",
                "announcement_set",
                "modified_at",
            ]
        )


# --- scheduler operations --------------------------------------------------------------------


def scheduler_operation_apply(*, actor: User, op: SchedulerOperation, agent_ids: list[str]) -> int:
    """Include (schedulable) or exclude agents from scheduling; all ids must exist.

    The flag survives agent restarts and re-registration; the scheduler's snapshot loads only
    schedulable agents, so an excluded agent gets no new kernel and keeps its running ones."""
    _superadmin_check(actor, "include or exclude agents from scheduling")
    wanted = sorted(set(agent_ids))
    known = set(Agent.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [agent_id for agent_id in wanted if agent_id not in known]
    if missing:
        raise AgentsNotFound(f"Unknown agent(s): {', '.join(missing)}.", data={"missing": missing})
    return agents_set_schedulable(
        agent_ids=wanted, schedulable=op == SchedulerOperation.INCLUDE_AGENTS
    )


# --- error log -------------------------------------------------------------------------------


def error_log_append(*, actor: User, entry: ErrorLogAppend) -> ErrorLog:
    """Record an error a client reports, as the caller's."""
    return ErrorLog.objects.create(
        severity=entry.severity,
        source=entry.source,
        user=actor,
        message=entry.message,
        context_lang=entry.context_lang,
        context_env=entry.context_env,
        request_url=entry.request_url or "",
        request_status=entry.request_status,
        traceback=entry.traceback or "",
    )


def error_log_record_server_error(
    *,
    user_id: uuid.UUID | None,
    method: str,
    url: str,
    status: int,
    message: str,
    traceback_text: str | None,
) -> None:
    """Record a 5xx answer of the API; never raises (the answer is already on its way)."""
    try:
        ErrorLog.objects.create(
            severity=ErrorLogSeverity.ERROR,
            source=SERVER_ERROR_SOURCE,
            user_id=user_id,
            message=message[:MAX_TRACEBACK_CHARS],
            context_lang="python",
            context_env={"method": method},
            request_url=url[:2048],
            request_status=status,
            traceback=traceback_text[-MAX_TRACEBACK_CHARS:] if traceback_text else "",
        )
    except Exception:  # the database may be what failed; the log line below still tells
        log.exception("server error not recorded", extra={"url": url, "status": status})


@dataclass(frozen=True, slots=True)
class ErrorLogPage:
    logs: list[dict[str, Any]]
    count: int


def error_log_row(entry: ErrorLog, *, with_cleared: bool) -> dict[str, Any]:
    """One log as the client reads it (`created_at` a POSIX timestamp, `user` a UUID string)."""
    row: dict[str, Any] = {
        "log_id": str(entry.pk),
        "created_at": entry.created_at.timestamp(),
        "severity": entry.severity,
        "source": entry.source,
        "user": str(entry.user_id) if entry.user_id else None,
        "is_read": entry.is_read,
        "message": entry.message,
        "context_lang": entry.context_lang,
        "context_env": entry.context_env,
        "request_url": entry.request_url or None,
        "request_status": entry.request_status,
        "traceback": entry.traceback or None,
    }
    if with_cleared:
        row["is_cleared"] = entry.is_cleared
    return row


def error_logs_page(*, actor: User, page_no: int, page_size: int, mark_read: bool) -> ErrorLogPage:
    """The newest logs the actor may see, one page; `mark_read` marks that page read."""
    qs = error_logs_visible_to(actor=actor).order_by("-created_at", "pk")
    count = qs.count()
    start = (page_no - 1) * page_size
    entries = list(qs[start : start + page_size])
    if mark_read and entries:
        ErrorLog.objects.filter(pk__in=[e.pk for e in entries]).update(is_read=True)
        for entry in entries:
            entry.is_read = True
    with_cleared = actor.role == UserRole.SUPERADMIN
    return ErrorLogPage(
        logs=[error_log_row(e, with_cleared=with_cleared) for e in entries], count=count
    )


def error_log_mark_cleared(*, actor: User, log_id: str) -> None:
    """Hide a log from everyone but superadmins; 404 for a log the actor may not clear."""
    try:
        pk = uuid.UUID(log_id)
    except ValueError:
        raise ErrorLogNotFound(f"No error log {log_id[:64]!r}.") from None
    updated = error_logs_clearable_by(actor=actor).filter(pk=pk).update(is_cleared=True)
    if not updated:
        raise ErrorLogNotFound(f"No error log {log_id[:64]!r}.")
