"""Changing a session's scheduling priority (`modify_compute_session`, `session set-priority`)."""

from __future__ import annotations

import logging

from backendai_site.accounts.models import KeyPair
from backendai_site.common.errors import Conflict, InvalidAPIParameters
from sessions_app.enums import SessionAction, SessionStatus
from sessions_app.models import Session
from sessions_app.selectors import session_get_by_ref

log = logging.getLogger(__name__)

PRIORITY_MIN, PRIORITY_MAX = 0, 100


def session_set_priority(*, requester: KeyPair, ref: str, priority: int) -> Session:
    """Priority is a MANAGE action on the session (sessions_for decides who may)."""
    session = session_get_by_ref(requester=requester, ref=ref, action=SessionAction.MANAGE)
    return session_priority_set(session=session, priority=priority)


def session_priority_set(*, session: Session, priority: int) -> Session:
    """Set the priority of a session the caller already found with
    `sessions_for(actor, SessionAction.MANAGE)` (the API by keypair, the console by user)."""
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidAPIParameters(f"priority must be within {PRIORITY_MIN}..{PRIORITY_MAX}")
    if session.status in SessionStatus.dead():
        raise Conflict(f"the session {session.name} has already finished")
    session.priority = priority
    session.save(update_fields=["priority"])
    log.info("session priority set", extra={"session_id": str(session.pk), "priority": priority})
    return session
