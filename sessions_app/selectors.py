"""Reads of the sessions app, always scoped to what the requester may see."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair

from .enums import SessionStatus
from .errors import OwnerNotPermitted, SessionNotFound, TooManySessionsMatched
from .models import Kernel, Session


def sessions_visible_to(*, keypair: KeyPair) -> QuerySet[Session]:
    """Sessions a keypair may see: its own; its domain's (domain admin); all (superadmin)."""
    qs = Session.objects.all()
    user = keypair.user
    match user.role:
        case UserRole.SUPERADMIN | UserRole.MONITOR:
            return qs
        case UserRole.ADMIN:
            return qs.filter(domain_id=user.domain_id)
    return qs.filter(access_key_id=keypair.access_key)


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
    *, requester: KeyPair, ref: str, owner_access_key: str | None = None, live_only: bool = False
) -> Session:
    """Find a session by UUID or by name (among the owner's sessions, live ones first)."""
    base = sessions_visible_to(keypair=requester).select_related(
        "access_key", "user", "image", "resource_group", "project", "domain"
    )
    if owner_access_key:
        owner = owner_keypair_resolve(requester=requester, owner_access_key=owner_access_key)
        base = base.filter(access_key_id=owner.access_key)
    try:
        session_id = uuid.UUID(ref)
    except ValueError:
        session_id = None
    if session_id is not None:
        found = base.filter(pk=session_id).first()
        if found is not None:
            return found
    by_name = base.filter(name=ref)
    if not owner_access_key:
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
