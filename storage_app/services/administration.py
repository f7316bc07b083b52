"""Folder administration (`backend.ai admin vfolder ...`): every share of the folders one
administers, an invitee's permission changed or removed, a user folder given to another owner,
and what this server can truthfully say about its volumes (mounts, performance, fstab).

Who may do what: shares are administered by superadmins (every folder) and domain admins (their
domain's folders); a plain user is refused and manages their own folder's invitees with
`vfolder invite` / `vfolder leave`. Ownership changes, mounts, performance metrics and fstab are
for superadmins only, as in the reference.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from django.db import IntegrityError, transaction

from backendai_site.accounts.enums import UserRole, UserStatus
from backendai_site.accounts.models import User
from backendai_site.accounts.permissions import superadmin_require
from backendai_site.common.errors import InvalidAPIParameters, PermissionDenied
from storage_app.enums import InvitationState, VFolderOwnership, VFolderStatus
from storage_app.errors import (
    NodeFstabUnavailable,
    StoragePerfMetricUnsupported,
    StorageVolumeNotFound,
    StorageVolumeUnavailable,
    VFolderAlreadyExists,
    VFolderBadStatus,
    VFolderHostNotAllowed,
    VFolderInUse,
    VFolderNotFound,
    VFolderShareNotFound,
    VFolderUserNotFound,
)
from storage_app.models import (
    StorageVolume,
    UploadReservation,
    VFolder,
    VFolderInvitation,
    VFolderPermission,
)
from storage_app.selectors import vfolders_administered_by, volume_get, volumes_allowed_for

from .usage_hooks import vfolder_mount_users
from .volumes import volume_backend

log = logging.getLogger(__name__)

SHARES_MAX = 1000
MANAGER_FSTAB_NOTE = (
    "# The manager's fstab is not read through the API. The folders' storage volumes and\n"
    "# whether each is reachable: `backend.ai admin vfolder list-mounts`.\n"
)


def _shares_admin_require(actor: User) -> None:
    if actor.role not in (UserRole.SUPERADMIN, UserRole.ADMIN):
        raise PermissionDenied("Only superadmins and domain admins administer folder shares.")


def _administered_folder(actor: User, vfolder_id: uuid.UUID) -> VFolder:
    vfolder = vfolders_administered_by(user=actor).filter(pk=vfolder_id).first()
    if vfolder is None:
        raise VFolderNotFound(f"No virtual folder {vfolder_id} that you administer.")
    return vfolder


def _share_output(row: VFolderPermission) -> dict[str, Any]:
    vfolder = row.vfolder
    is_project = vfolder.ownership_type == VFolderOwnership.PROJECT
    return {
        "vfolder_id": str(vfolder.pk),
        "vfolder_name": vfolder.name,
        "status": vfolder.status,
        "owner": str(vfolder.project_id if is_project else vfolder.user_id),
        "type": "project" if is_project else "user",
        "shared_to": {"uuid": str(row.user_id), "email": row.user.email},
        "perm": row.permission,
    }


def shares_list(*, actor: User, vfolder_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """Every share (invitee or project-share permission) of the folders the actor administers,
    or of one of them (404 when the actor does not administer it). One query."""
    _shares_admin_require(actor)
    folders = vfolders_administered_by(user=actor)
    if vfolder_id is not None:
        folders = folders.filter(pk=_administered_folder(actor, vfolder_id).pk)
    rows = (
        VFolderPermission.objects.filter(vfolder__in=folders)
        .select_related("vfolder", "user")
        .order_by("vfolder__name", "vfolder_id", "user__email")[:SHARES_MAX]
    )
    return [_share_output(row) for row in rows]


def share_update(
    *, actor: User, vfolder_id: uuid.UUID, user_id: uuid.UUID, permission: str | None
) -> None:
    """Set an existing share's permission, or remove the share when `permission` is None."""
    _shares_admin_require(actor)
    vfolder = _administered_folder(actor, vfolder_id)
    if not User.objects.filter(pk=user_id).exists():
        raise VFolderUserNotFound(f"No user {user_id}.")
    with transaction.atomic():
        row = (
            VFolderPermission.objects.select_for_update()
            .filter(vfolder=vfolder, user_id=user_id)
            .first()
        )
        if row is None:
            raise VFolderShareNotFound(f"User {user_id} has no share of folder {vfolder.pk}.")
        if permission is None:
            row.delete()
        else:
            row.permission = permission
            row.save(update_fields=["permission"])
    log.info(
        "vfolder share %s",
        "removed" if permission is None else "updated",
        extra={"vfolder_id": str(vfolder.pk), "user_id": str(user_id), "perm": permission},
    )


def _new_owner(email: str) -> User:
    user = (
        User.objects.select_related("domain").filter(email=email, status=UserStatus.ACTIVE).first()
    )
    if user is None:
        raise VFolderUserNotFound(f"No active user {email!r}.")
    return user


def _folder_move_back(
    vfolder_id: uuid.UUID, volume: StorageVolume, old_scope: str, new_scope: str
) -> None:
    try:
        volume_backend(volume).folder_move(
            src_scope_id=new_scope, dst_scope_id=old_scope, vfolder_id=vfolder_id
        )
    except OSError as exc:
        log.error(
            "vfolder directory left in the new owner's scope after a failed commit",
            extra={"vfolder_id": str(vfolder_id), "scope": new_scope, "error": str(exc)},
        )


def vfolder_ownership_change(*, actor: User, vfolder_id: uuid.UUID, user_email: str) -> VFolder:
    """Give a user folder to another user (superadmins only). The folder must be ready and
    unmounted, its host allowed for the new owner, and its name free among theirs. It moves into
    the new owner's quota scope (one rename on its volume); the new owner's own share of it and
    pending invitations to it end."""
    superadmin_require(actor, to="change a folder's owner")
    new_owner = _new_owner(user_email)
    renamed: tuple[StorageVolume, str, str] | None = None
    try:
        with transaction.atomic():
            vfolder = (
                VFolder.objects.select_for_update()
                .select_related("volume")
                .exclude(status=VFolderStatus.DELETE_COMPLETE)
                .filter(pk=vfolder_id)
                .first()
            )
            if vfolder is None:
                raise VFolderNotFound(f"No virtual folder {vfolder_id}.")
            if vfolder.ownership_type != VFolderOwnership.USER:
                raise InvalidAPIParameters("Only user folders change owner, not project folders.")
            if vfolder.user_id == new_owner.pk:
                return vfolder
            if vfolder.status != VFolderStatus.READY:
                raise VFolderBadStatus(f"The folder is {vfolder.status}, not ready.")
            if vfolder.host not in {v.name for v in volumes_allowed_for(user=new_owner)}:
                raise VFolderHostNotAllowed(
                    f"{new_owner.email} may not use the folder's storage host {vfolder.host!r}."
                )
            sessions = vfolder_mount_users([vfolder.pk]).get(vfolder.pk)
            if sessions:
                raise VFolderInUse(
                    f"The folder is mounted by {len(sessions)} live session(s).",
                    data={"sessions": sessions},
                )
            old_scope, new_scope = vfolder.quota_scope_id, f"user:{new_owner.pk}"
            vfolder.user, vfolder.domain_id = new_owner, new_owner.domain_id
            vfolder.quota_scope_id = new_scope
            try:
                with transaction.atomic():
                    vfolder.save(update_fields=["user", "domain", "quota_scope_id"])
            except IntegrityError:
                raise VFolderAlreadyExists(
                    f"{new_owner.email} already has a folder named {vfolder.name!r}."
                ) from None
            UploadReservation.objects.filter(vfolder=vfolder).update(quota_scope_id=new_scope)
            VFolderPermission.objects.filter(vfolder=vfolder, user=new_owner).delete()
            VFolderInvitation.objects.filter(
                vfolder=vfolder, invitee=new_owner, state=InvitationState.PENDING
            ).update(state=InvitationState.CANCELED)
            try:
                volume_backend(vfolder.volume).folder_move(
                    src_scope_id=old_scope, dst_scope_id=new_scope, vfolder_id=vfolder.pk
                )
            except OSError as exc:
                raise StorageVolumeUnavailable(
                    f"The folder's directory could not be moved: {exc.strerror or exc}."
                ) from None
            renamed = (vfolder.volume, old_scope, new_scope)
    except BaseException:
        if renamed is not None:  # the commit failed after the move: put the directory back
            _folder_move_back(vfolder_id, *renamed)
        raise
    log.info(
        "vfolder owner changed",
        extra={"vfolder_id": str(vfolder.pk), "user_id": str(new_owner.pk)},
    )
    return vfolder


def _volume_state(volume: StorageVolume) -> dict[str, Any]:
    path = volume.mount_path
    reachable = os.path.isdir(path) and os.access(path, os.R_OK | os.W_OK | os.X_OK)
    return {
        "host": volume.name,
        "backend": volume.backend,
        "path": path,
        "reachable": reachable,
        "mount_point": os.path.ismount(path),
    }


def volumes_mounts(*, actor: User) -> dict[str, Any]:
    """`GET /folders/_/mounts`: each active volume's path and whether this server can reach it.
    This server is its own storage proxy, so both report the same volumes; agents run no
    watcher that could list theirs, so `agents` is empty."""
    superadmin_require(actor, to="list the storage mounts")
    states = [_volume_state(v) for v in StorageVolume.objects.filter(is_active=True)]
    unreachable = [s["host"] for s in states if not s["reachable"]]
    message = ("unreachable: " + ", ".join(unreachable)) if unreachable else ""
    return {
        "manager": {"success": not unreachable, "mounts": states, "message": message},
        "storage_proxy": {
            "success": not unreachable,
            "mounts": [[s["host"], s["path"]] for s in states if s["reachable"]],
            "message": message,
        },
        "agents": {},
    }


def volume_perf_metric(*, actor: User, folder_host: str) -> dict[str, Any]:
    """`GET /folders/_/perf-metric`: no backend here measures any (the reference's vfs backend
    has none either), so a known host answers a 400 that says so."""
    superadmin_require(actor, to="read storage performance metrics")
    volume = volume_get(name=folder_host)
    if volume is None:
        raise StorageVolumeNotFound(f"No active storage host {folder_host!r}.")
    raise StoragePerfMetricUnsupported(
        f"{volume.name} uses the {volume.backend} backend, which measures no performance "
        "metrics (IOPS, throughput, latency).",
        data={"folder_host": volume.name, "backend": volume.backend},
    )


def fstab_contents(
    *, actor: User, agent_id: str | None, fstab_path: str | None = None
) -> dict[str, Any]:
    """`GET /folders/_/fstab`: the manager's answer is a note, as in the reference (which has not
    read the manager's fstab since 20.09); agents run no watcher to read theirs."""
    superadmin_require(actor, to="read fstab contents")
    if fstab_path is not None:
        raise NodeFstabUnavailable("fstab_path is not accepted: no file is read by path.")
    if agent_id is not None:
        raise NodeFstabUnavailable(
            f"Agents here run no watcher, so agent {agent_id!r}'s fstab cannot be read.",
            data={"agent_id": agent_id},
        )
    return {"content": MANAGER_FSTAB_NOTE, "node": "manager", "node_id": "manager"}
