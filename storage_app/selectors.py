"""Reads of the storage app, every one scoped to what the caller may see.

`vfolders_accessible_to` is the one rule: a user sees their own folders, folders they accepted an
invitation to or that were shared with them, and the folders of projects they belong to. Domain
admins additionally reach their domain's folders and superadmins all folders, but only by id
(a name always means one of the caller's own, shared or project folders).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import ProjectMembership, User

from .enums import VFolderOwnership, VFolderPermissionMode, VFolderStatus
from .errors import VFolderNotFound, VFolderPermissionDenied
from .host_permissions import host_permissions_for
from .models import StorageVolume, VFolder, VFolderPermission


@dataclass(frozen=True, slots=True)
class VFolderAccess:
    vfolder: VFolder
    permission: str  # ro, rw or wd: what the caller may do
    is_owner: bool
    user_id: uuid.UUID

    def require(self, needed: str) -> None:
        if VFolderPermissionMode.rank(self.permission) < VFolderPermissionMode.rank(needed):
            raise VFolderPermissionDenied(
                f"You have {self.permission!r} on this folder; this needs {needed!r}."
            )


def _member_q(user: User) -> Q:
    memberships = ProjectMembership.objects.filter(
        user_id=user.pk, project_id=OuterRef("project_id")
    )
    return Q(ownership_type=VFolderOwnership.PROJECT) & Q(Exists(memberships))


def _shared_q(user: User) -> Q:
    rows = VFolderPermission.objects.filter(user_id=user.pk, vfolder_id=OuterRef("pk"))
    return Q(Exists(rows))


def vfolders_accessible_to(*, user: User) -> QuerySet[VFolder]:
    """Own, shared/invited and project folders (every status but purged)."""
    return VFolder.objects.exclude(status=VFolderStatus.DELETE_COMPLETE).filter(
        Q(user_id=user.pk) | _shared_q(user) | _member_q(user)
    )


def vfolders_own(*, user: User) -> QuerySet[VFolder]:
    return VFolder.objects.exclude(status=VFolderStatus.DELETE_COMPLETE).filter(user_id=user.pk)


def vfolders_invited(*, user: User) -> QuerySet[VFolder]:
    return (
        VFolder.objects.exclude(status=VFolderStatus.DELETE_COMPLETE)
        .filter(_shared_q(user))
        .exclude(user_id=user.pk)
    )


def vfolders_project(*, user: User) -> QuerySet[VFolder]:
    return VFolder.objects.exclude(status=VFolderStatus.DELETE_COMPLETE).filter(_member_q(user))


def vfolders_administered_by(*, user: User) -> QuerySet[VFolder]:
    """What an admin may reach by id: the domain's folders, or all (superadmin)."""
    qs = VFolder.objects.exclude(status=VFolderStatus.DELETE_COMPLETE)
    match user.role:
        case UserRole.SUPERADMIN:
            return qs
        case UserRole.ADMIN:
            return qs.filter(domain_id=user.domain_id)
    return qs.none()


def vfolders_listable_by(*, user: User) -> QuerySet[VFolder]:
    """`vfolder_list`: what the caller can use, plus what they administer."""
    if user.role in (UserRole.SUPERADMIN, UserRole.ADMIN):
        return vfolders_administered_by(user=user) | vfolders_accessible_to(user=user)
    return vfolders_accessible_to(user=user)


def _parse_uuid(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(ref))
    except ValueError:
        return None


def vfolder_access(*, user: User, vfolder: VFolder) -> VFolderAccess:
    """The caller's effective permission on a folder they can see."""
    if vfolder.user_id == user.pk:
        return VFolderAccess(
            vfolder=vfolder,
            user_id=user.pk,
            permission=VFolderPermissionMode.RW_DELETE,
            is_owner=True,
        )
    shared = (
        VFolderPermission.objects.filter(vfolder_id=vfolder.pk, user_id=user.pk)
        .values_list("permission", flat=True)
        .first()
    )
    if shared is not None:
        return VFolderAccess(vfolder=vfolder, user_id=user.pk, permission=shared, is_owner=False)
    if (
        vfolder.project_id is not None
        and ProjectMembership.objects.filter(
            project_id=vfolder.project_id, user_id=user.pk
        ).exists()
    ):
        permission = vfolder.permission
        if user.role in (UserRole.SUPERADMIN, UserRole.ADMIN):
            permission = VFolderPermissionMode.RW_DELETE
        return VFolderAccess(
            vfolder=vfolder, user_id=user.pk, permission=permission, is_owner=False
        )
    if vfolders_administered_by(user=user).filter(pk=vfolder.pk).exists():
        return VFolderAccess(
            vfolder=vfolder,
            user_id=user.pk,
            permission=VFolderPermissionMode.RW_DELETE,
            is_owner=False,
        )
    raise VFolderNotFound()


def vfolder_resolve(
    *, user: User, ref: str, statuses: frozenset[str] | None = None
) -> VFolderAccess:
    """A folder by id (hex or dashed) or by name, among those the caller may see; 404 otherwise."""
    qs = vfolders_accessible_to(user=user).select_related("volume")
    if statuses is not None:
        qs = qs.filter(status__in=sorted(statuses))
    vfid = _parse_uuid(ref)
    vfolder: VFolder | None = None
    if vfid is not None:
        vfolder = qs.filter(pk=vfid).first()
        if vfolder is None:
            admin_qs = vfolders_administered_by(user=user).select_related("volume")
            if statuses is not None:
                admin_qs = admin_qs.filter(status__in=sorted(statuses))
            vfolder = admin_qs.filter(pk=vfid).first()
    if vfolder is None:
        matches = list(qs.filter(name=ref).order_by("-created_at")[:2])
        # one's own folder wins over a shared or project folder of the same name
        own = [m for m in matches if m.user_id == user.pk]
        vfolder = own[0] if own else (matches[0] if matches else None)
    if vfolder is None:
        raise VFolderNotFound(f"No virtual folder {ref!r} that you can access.")
    return vfolder_access(user=user, vfolder=vfolder)


def volumes_allowed_for(*, user: User) -> list[StorageVolume]:
    """Active volumes the user may use: all of them, unless some `allowed_vfolder_hosts` map of
    the user's domain, projects or keypair policies names hosts (host_permissions.py); then
    the hosts those maps grant anything on."""
    volumes = list(StorageVolume.objects.filter(is_active=True).order_by("name"))
    granted = host_permissions_for(user=user)
    if granted is not None:
        volumes = [v for v in volumes if granted.get(v.name)]
    return volumes


def volume_get(*, name: str) -> StorageVolume | None:
    return StorageVolume.objects.filter(name=name, is_active=True).first()


def scope_usage(*, quota_scope_id: str) -> tuple[int, int]:
    """(folder count, bytes used) of the live folders in a quota scope."""
    agg = VFolder.objects.filter(
        quota_scope_id=quota_scope_id, status__in=sorted(VFolderStatus.live())
    ).aggregate(n=Count("pk"), used=Sum("cur_size"))
    return int(agg["n"] or 0), int(agg["used"] or 0)
