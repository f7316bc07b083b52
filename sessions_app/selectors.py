"""Reads of the sessions app, always scoped by the one authorization rule (`sessions_for`)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, User
from backendai_site.accounts.selectors import user_watched_domain_id

from .enums import PooledKernelStatus, SessionAction, SessionStatus
from .errors import (
    OwnerNotPermitted,
    SessionActionNotPermitted,
    SessionNotFound,
    TooManySessionsMatched,
)
from .models import Kernel, Session, WarmPool

# Always-true and always-false conditions that still compile inside CASE/WHEN.
_EVERY_SESSION = Q(pk__isnull=False)
_NO_SESSION = Q(pk__isnull=True)

SessionActor = KeyPair | User


def _actor_user_and_own(actor: SessionActor) -> tuple[User, Q]:
    """The actor's user, and what "its own sessions" means: a keypair owns the sessions made
    with it (the API's unit, as in Backend.AI); a console user owns every session of theirs."""
    if isinstance(actor, KeyPair):
        return actor.user, Q(access_key_id=actor.access_key)
    return actor, Q(user_id=actor.pk)


def session_action_q(*, actor: SessionActor, action: SessionAction) -> Q:
    """The one authorization rule for sessions, as a condition on `Session` rows.

    Superadmins may do anything to any session; domain admins anything inside their domain;
    monitors may only view (every domain when a superadmin made them global, else their own
    domain), beyond their own sessions; everyone may do anything to their own sessions.
    Inactive users and keypairs may do nothing.
    """
    user, own = _actor_user_and_own(actor)
    if not user.is_active or (isinstance(actor, KeyPair) and not actor.is_active):
        return _NO_SESSION
    match user.role:
        case UserRole.SUPERADMIN:
            return _EVERY_SESSION
        case UserRole.ADMIN:
            return Q(domain_id=user.domain_id)
        case UserRole.MONITOR if action == SessionAction.VIEW:
            domain_id = user_watched_domain_id(user=user)
            return _EVERY_SESSION if domain_id is None else own | Q(domain_id=domain_id)
    return own


def sessions_for(actor: SessionActor, action: SessionAction) -> QuerySet[Session]:
    """The sessions `actor` (a keypair, or a console user) may `action`: every read and write of
    a session asks this, in the spirit of NetBox's `restrict()`."""
    return Session.objects.filter(session_action_q(actor=actor, action=action))


def session_permits(*, actor: SessionActor, session: Session, action: SessionAction) -> bool:
    """Whether `actor` may `action` the given session (one query, the same rule)."""
    return sessions_for(actor, action).filter(pk=session.pk).exists()


def owner_keypair_resolve(*, requester: KeyPair, owner_access_key: str | None) -> KeyPair:
    """The keypair a request acts for: the requester, or (admins only) `owner_access_key`."""
    if not owner_access_key or owner_access_key == requester.access_key:
        return requester
    role = requester.user.role
    owner = (
        KeyPair.objects.select_related("user", "user__domain", "resource_policy")
        .filter(access_key=owner_access_key)
        .first()
    )
    if role == UserRole.SUPERADMIN and owner is not None:
        return owner
    if (
        role == UserRole.ADMIN
        and owner is not None
        and owner.user.domain_id == requester.user.domain_id
    ):
        return owner
    raise OwnerNotPermitted()


def session_get_by_ref(
    *,
    requester: KeyPair,
    ref: str,
    action: SessionAction,
    owner_access_key: str | None = None,
    live_only: bool = False,
) -> Session:
    """Find a session by UUID or by name (among the owner's sessions, live ones first) that the
    requester may `action`: one it may not even view is not found (404); one it may view but
    not `action` is refused (403)."""
    base = sessions_for(requester, SessionAction.VIEW).select_related(
        "access_key", "user", "image", "resource_group", "project", "domain"
    )
    if action != SessionAction.VIEW:
        base = base.annotate(
            permitted=ExpressionWrapper(
                session_action_q(actor=requester, action=action), output_field=BooleanField()
            )
        )
    if owner_access_key and owner_access_key != requester.access_key:
        if requester.user.role == UserRole.USER:
            raise OwnerNotPermitted()
        # Whose sessions a staff caller may reach is the rule's business: another domain's
        # owner simply has no session this caller can see.
        base = base.filter(access_key_id=owner_access_key)
    elif owner_access_key:
        base = base.filter(access_key_id=requester.access_key)
    session = _session_find(
        base, requester=requester, ref=ref, by_owner=bool(owner_access_key), live_only=live_only
    )
    if action != SessionAction.VIEW and not getattr(session, "permitted", False):
        raise SessionActionNotPermitted(data={"action": str(action)})
    return session


def _session_find(
    base: QuerySet[Session], *, requester: KeyPair, ref: str, by_owner: bool, live_only: bool
) -> Session:
    try:
        session_id = uuid.UUID(ref)
    except ValueError:
        session_id = None
    if session_id is not None:
        found = base.filter(pk=session_id).first()
        if found is not None:
            return found
    by_name = base.filter(name=ref)
    if not by_owner:
        by_name = by_name.filter(access_key_id=requester.access_key)
    live = list(by_name.exclude(status__in=SessionStatus.dead())[:10])
    if len(live) == 1:
        return live[0]
    if len(live) > 1:
        raise TooManySessionsMatched(
            data={"matches": [{"id": str(s.pk), "name": s.name, "status": s.status} for s in live]}
        )
    if live_only:
        raise SessionNotFound(f"No live session named or identified by {ref!r}.")
    latest = by_name.order_by("-created_at").first()
    if latest is None:
        raise SessionNotFound(f"No session named or identified by {ref!r}.")
    return latest


SESSION_LIST_FIELDS = (
    "id",
    "name",
    "session_type",
    "status",
    "status_info",
    "status_data",
    "result",
    "image_ref",
    "architecture",
    "domain__name",
    "project_id",
    "project__name",
    "user_id",
    "access_key_id",
    "resource_group__name",
    "priority",
    "cluster_mode",
    "cluster_size",
    "requested_slots",
    "occupying_slots",
    "environ",
    "tag",
    "starts_at",
    "created_at",
    "terminated_at",
)
KERNEL_LIST_FIELDS = (
    "id",
    "session_id",
    "cluster_role",
    "cluster_idx",
    "cluster_hostname",
    "agent_id",
    "container_id",
    "status",
    "status_info",
    "occupied_slots",
    "service_ports",
    "exit_code",
    "oom_killed",
)


def session_list_rows(*, page: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    """The kernels of a page of session rows, in one query, keyed by session id."""
    kernels: dict[Any, list[dict[str, Any]]] = {row["id"]: [] for row in page}
    for kernel in (
        Kernel.objects.filter(session_id__in=list(kernels))
        .order_by("session_id", "cluster_idx")
        .values(*KERNEL_LIST_FIELDS)
    ):
        kernels[kernel["session_id"]].append(kernel)
    return kernels


def warm_pools_with_fill(queryset: QuerySet[WarmPool]) -> QuerySet[WarmPool]:
    """Pools annotated with `ready_count` and `creating_count` (one query for a list)."""
    return queryset.select_related("resource_group", "image").annotate(
        ready_count=Count("kernels", filter=Q(kernels__status=PooledKernelStatus.READY)),
        creating_count=Count("kernels", filter=Q(kernels__status=PooledKernelStatus.CREATING)),
    )
