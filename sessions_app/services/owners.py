"""Removing an account together with its finished sessions (the sessions keep their owner's row)."""

from __future__ import annotations

import logging

from django.db import transaction

from backendai_site.accounts.models import Project, User
from backendai_site.accounts.user_services import require_manager, user_admin_require_purgeable
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


@transaction.atomic
def project_purge(*, actor: User, project: Project) -> None:
    """`purge_group`: delete the project, its memberships and finished sessions; refused while
    any of its sessions is still alive."""
    require_manager(actor)
    live = project.sessions.filter(status__in=SessionStatus.live()).count()
    if live:
        raise Conflict(f"the project {project.name} still has {live} live session(s)")
    project.sessions.all().delete()
    project.delete()
    log.info("project purged", extra={"project": project.name, "by": str(actor.pk)})
