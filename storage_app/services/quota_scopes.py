"""Quota scopes (`admin quota-scope get/set/unset`): the bytes and folders a user's or a project's
folders use on one volume, and an administrator's hard limit on them.

Who may see a scope is the reference's rule: a superadmin any, a domain admin the scopes of its
domain's users and projects, anyone else their own user scope and the scopes of projects they
belong to. Only superadmins and domain admins set or unset a limit. A scope the caller may not
see answers exactly like one that does not exist.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Sum

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Project, ProjectMembership, User
from backendai_site.common.errors import InvalidAPIParameters, PermissionDenied
from storage_app.enums import VFolderStatus
from storage_app.errors import QuotaScopeNotFound
from storage_app.models import QuotaScopeLimit, StorageVolume, VFolder

log = logging.getLogger(__name__)

SCOPE_TYPES = ("user", "project")


@dataclass(frozen=True)
class QuotaScopeState:
    volume: StorageVolume
    quota_scope_id: str
    usage_bytes: int
    usage_count: int
    hard_limit_bytes: int | None
    """The limit in force: the administrator's, else the owner's resource policy; None = none."""


def _parse(quota_scope_id: str) -> tuple[str, uuid.UUID]:
    kind, _, raw = quota_scope_id.partition(":")
    try:
        owner = uuid.UUID(raw)
    except ValueError:
        owner = None
    if kind not in SCOPE_TYPES or owner is None:
        raise InvalidAPIParameters(
            f"{quota_scope_id!r} is not a quota scope id: expected user:<uuid> or project:<uuid>."
        )
    return kind, owner


def _canonical(kind: str, owner: uuid.UUID) -> str:
    return f"{kind}:{owner}"


def _policy_limit(kind: str, owner: uuid.UUID) -> int | None:
    holder = (
        User.objects.select_related("resource_policy").filter(pk=owner).first()
        if kind == "user"
        else Project.objects.select_related("resource_policy").filter(pk=owner).first()
    )
    if holder is None or holder.resource_policy is None:
        return None
    size = holder.resource_policy.max_quota_scope_size
    return size if size >= 0 else None


def _visible(actor: User, kind: str, owner: uuid.UUID) -> bool:
    model = User if kind == "user" else Project
    domain_id = model.objects.filter(pk=owner).values_list("domain_id", flat=True).first()
    if domain_id is None:
        return False
    match actor.role:
        case UserRole.SUPERADMIN:
            return True
        case UserRole.ADMIN:
            return bool(domain_id == actor.domain_id)
    if kind == "user":
        return owner == actor.pk
    return ProjectMembership.objects.filter(project_id=owner, user_id=actor.pk).exists()


def _resolve(actor: User, host: str, quota_scope_id: str) -> tuple[StorageVolume, str]:
    kind, owner = _parse(quota_scope_id)
    volume = StorageVolume.objects.filter(name=host, is_active=True).first()
    if volume is None or not _visible(actor, kind, owner):
        raise QuotaScopeNotFound(f"No quota scope {quota_scope_id} on {host} that you may see.")
    return volume, _canonical(kind, owner)


def quota_scope_limit(*, volume_id: int, quota_scope_id: str) -> int | None:
    """The administrator's hard limit on a scope of a volume, if one is set."""
    return (
        QuotaScopeLimit.objects.filter(volume_id=volume_id, quota_scope_id=quota_scope_id)
        .values_list("hard_limit_bytes", flat=True)
        .first()
    )


def _state(volume: StorageVolume, scope: str) -> QuotaScopeState:
    usage = VFolder.objects.filter(
        volume=volume, quota_scope_id=scope, status__in=sorted(VFolderStatus.live())
    ).aggregate(n=Count("pk"), used=Sum("cur_size"))
    limit = quota_scope_limit(volume_id=volume.pk, quota_scope_id=scope)
    if limit is None:
        kind, owner = _parse(scope)
        limit = _policy_limit(kind, owner)
    return QuotaScopeState(
        volume=volume,
        quota_scope_id=scope,
        usage_bytes=int(usage["used"] or 0),
        usage_count=int(usage["n"] or 0),
        hard_limit_bytes=limit,
    )


def quota_scope_get(*, actor: User, host: str, quota_scope_id: str) -> QuotaScopeState:
    volume, scope = _resolve(actor, host, quota_scope_id)
    return _state(volume, scope)


def _require_admin(actor: User) -> None:
    if actor.role not in (UserRole.SUPERADMIN, UserRole.ADMIN):
        raise PermissionDenied("Only superadmins and domain admins change quota scopes.")


def quota_scope_set(
    *, actor: User, host: str, quota_scope_id: str, hard_limit_bytes: int | None
) -> QuotaScopeState:
    """Set the scope's hard limit; without a value nothing changes (as the reference does)."""
    _require_admin(actor)
    volume, scope = _resolve(actor, host, quota_scope_id)
    if hard_limit_bytes is None:
        return _state(volume, scope)
    if hard_limit_bytes <= 0:
        raise InvalidAPIParameters("hard_limit_bytes must be a positive number of bytes.")
    with transaction.atomic():
        QuotaScopeLimit.objects.update_or_create(
            volume=volume, quota_scope_id=scope, defaults={"hard_limit_bytes": hard_limit_bytes}
        )
    log.info(
        "quota scope limit set",
        extra={"quota_scope_id": scope, "volume": volume.name, "limit_bytes": hard_limit_bytes},
    )
    return _state(volume, scope)


def quota_scope_unset(*, actor: User, host: str, quota_scope_id: str) -> QuotaScopeState:
    """Drop the administrator's limit: the owner's resource policy applies again."""
    _require_admin(actor)
    volume, scope = _resolve(actor, host, quota_scope_id)
    QuotaScopeLimit.objects.filter(volume=volume, quota_scope_id=scope).delete()
    log.info("quota scope limit unset", extra={"quota_scope_id": scope, "volume": volume.name})
    return _state(volume, scope)
