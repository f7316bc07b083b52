"""Changing a session's scheduling priority (`modify_compute_session`, `session set-priority`)."""

from __future__ import annotations

import logging

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair
from backendai_site.common.errors import Conflict, InvalidAPIParameters, PermissionDenied
from sessions_app.enums import SessionStatus
from sessions_app.models import Session

log = logging.getLogger(__name__)

PRIORITY_MIN, PRIORITY_MAX = 0, 100


def session_set_priority(*, requester: KeyPair, session: Session, priority: int) -> Session:
    """Priority orders the pending queue among users, so only admins set it: a superadmin for any
    session, a domain admin for its domain's (`session` must be visible to `requester`)."""
    role = requester.user.role
    if role not in (UserRole.SUPERADMIN, UserRole.ADMIN) or (
        role == UserRole.ADMIN and session.domain_id != requester.user.domain_id
    ):
        raise PermissionDenied(f"a {role} may not change session priorities")
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidAPIParameters(f"priority must be within {PRIORITY_MIN}..{PRIORITY_MAX}")
    if session.status in SessionStatus.dead():
        raise Conflict(f"the session {session.name} has already finished")
    session.priority = priority
    session.save(update_fields=["priority"])
    log.info("session priority set", extra={"session_id": str(session.pk), "priority": priority})
    return session
