"""Removing an account together with its finished sessions (the sessions keep their owner's row)."""

from __future__ import annotations

import logging

from django.db import transaction

from backendai_site.accounts.models import User
from backendai_site.accounts.user_services import user_admin_require_purgeable
from backendai_site.common.errors import Conflict
from sessions_app.enums import SessionStatus

log = logging.getLogger(__name__)


@transaction.atomic
def user_purge(*, actor: User, user: User) -> None:
    """`purge_user`: delete the user, its keypairs, memberships and finished sessions; refused
    while any of its sessions is still alive (terminate them first)."""
    user_admin_require_purgeable(actor=actor, user=user)
    live = user.sessions.filter(status__in=SessionStatus.live()).count()
    if live:
        raise Conflict(f"{user.email} still has {live} live session(s); terminate them first")
    user.sessions.all().delete()
    email = user.email
    user.delete()
    log.info("user purged", extra={"email": email, "by": str(actor.pk)})
