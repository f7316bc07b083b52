"""Reads of the manager state and the error log, scoped by the caller's role."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from backendai_site.accounts.enums import STAFF_ROLES, UserRole
from backendai_site.accounts.models import User
from backendai_site.accounts.selectors import user_watched_domain_id
from backendai_site.config import get_config

from .enums import ManagerStatus
from .errors import ServerFrozen
from .models import ErrorLog, ManagerState


def manager_state_get() -> ManagerState:
    """The stored state, or the defaults (running, no announcement) before anyone changed it."""
    state = ManagerState.objects.filter(pk=ManagerState.SINGLETON_PK).first()
    return state if state is not None else ManagerState(pk=ManagerState.SINGLETON_PK)


def manager_is_frozen() -> bool:
    return ManagerState.objects.filter(
        pk=ManagerState.SINGLETON_PK, status=ManagerStatus.FROZEN
    ).exists()


def manager_check_accepts_sessions() -> None:
    """Raise `ServerFrozen` while the manager is frozen (one indexed query)."""
    if manager_is_frozen():
        raise ServerFrozen(
            "The manager is frozen: no new session is accepted until an admin unfreezes it "
            "(running sessions keep running)."
        )


@dataclass(frozen=True, slots=True)
class Announcement:
    enabled: bool
    message: str


def announcement_get() -> Announcement:
    """The posted announcement; `BAI_ANNOUNCEMENT` until an admin posted one."""
    state = manager_state_get()
    if not state.announcement_set:
        message = get_config().announcement
        return Announcement(enabled=bool(message), message=message)
    return Announcement(enabled=state.announcement_enabled, message=state.announcement_message)


def error_logs_visible_to(*, actor: User) -> QuerySet[ErrorLog]:
    """Superadmins every log (cleared ones too); domain admins and monitors the uncleared logs
    of their domain's users; everyone else their own uncleared logs."""
    qs = ErrorLog.objects.all()
    if actor.role == UserRole.SUPERADMIN:
        return qs
    qs = qs.filter(is_cleared=False)
    if actor.role in STAFF_ROLES:
        domain_id = user_watched_domain_id(user=actor)
        return qs if domain_id is None else qs.filter(user__domain_id=domain_id)
    return qs.filter(user=actor)


def error_logs_clearable_by(*, actor: User) -> QuerySet[ErrorLog]:
    """Logs an actor may mark cleared: what it sees, monitors none (they only read)."""
    if actor.role == UserRole.MONITOR:
        return ErrorLog.objects.none()
    return error_logs_visible_to(actor=actor)
