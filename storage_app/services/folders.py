"""Creating, renaming, trashing, restoring and purging folders; keeping usage current."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Project, User
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.vfolder_host_permissions import VFolderHostPermission
from backendai_site.config import get_config
from storage_app.enums import (
    VFolderOwnership,
    VFolderPermissionMode,
    VFolderStatus,
    VFolderUsageMode,
)
from storage_app.errors import (
    VFolderAlreadyExists,
    VFolderBadStatus,
    VFolderCountLimit,
    VFolderHostNotAllowed,
    VFolderInUse,
    VFolderInvalidName,
    VFolderPermissionDenied,
)
from storage_app.host_permissions import host_permission_require
from storage_app.models import VFolder
from storage_app.selectors import VFolderAccess, scope_usage, volumes_allowed_for

from .usage_hooks import vfolder_mount_users
from .volumes import default_volume_ensure, vfolder_root, volume_backend

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
RESERVED_NAMES = frozenset({".", "..", ".logs", ".local", ".config", ".ssh", ".bashrc", ".profile"})


@dataclass(frozen=True, slots=True)
class VFolderCreate:
    name: str
    host: str | None = None
    group: str | None = None
    usage_mode: str = VFolderUsageMode.GENERAL
    permission: str = VFolderPermissionMode.READ_WRITE
    cloneable: bool = False
    unmanaged_path: str | None = None


def vfolder_name_check(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or name in RESERVED_NAMES:
        raise VFolderInvalidName(
            "Folder names are 1-64 letters, digits, '_', '-' or '.', not starting with '.' or '-'."
        )
    return name


def vfolder_status_move(vfolder: VFolder, to: str) -> None:
    if to not in VFolderStatus.allowed_moves()[vfolder.status]:
        raise VFolderBadStatus(f"A folder in status {vfolder.status!r} cannot become {to!r}.")
    vfolder.status = to
    vfolder.status_changed = timezone.now()
    vfolder.save(update_fields=["status", "status_changed"])


def _is_admin_of(user: User, project: Project | None) -> bool:
    if project is None:
        return False
    return user.role == UserRole.SUPERADMIN or (
        user.role == UserRole.ADMIN and user.domain_id == project.domain_id
    )


def _project_resolve(user: User, ref: str) -> Project:
    qs = Project.objects.filter(domain_id=user.domain_id, is_active=True).select_related(
        "resource_policy"
    )
    try:
        project = qs.filter(pk=uuid.UUID(ref)).first()
    except ValueError:
        project = qs.filter(name=ref).first()
    if project is None:
        raise InvalidAPIParameters(f"No project {ref!r} in your domain.")
    return project


def vfolder_create(*, user: User, request: VFolderCreate) -> VFolder:
    """Check name, host, owner and count limit; write the row and create the directory."""
    name = vfolder_name_check(request.name)
    if request.unmanaged_path:
        raise InvalidAPIParameters("Unmanaged folders (host paths) are not supported.")
    if request.usage_mode not in VFolderUsageMode.values:
        raise InvalidAPIParameters(
            f"usage_mode must be one of {', '.join(VFolderUsageMode.values)}."
        )
    if request.permission not in VFolderPermissionMode.values:
        raise InvalidAPIParameters("permission must be ro, rw or wd.")
    default_volume_ensure()
    host = request.host or get_config().storage.default_host
    volume = next((v for v in volumes_allowed_for(user=user) if v.name == host), None)
    if volume is None:
        raise VFolderHostNotAllowed(f"Storage host {host!r} is unknown or not allowed for you.")
    host_permission_require(user=user, host=host, permission=VFolderHostPermission.CREATE)
    project: Project | None = None
    if request.group:
        project = _project_resolve(user, request.group)
        if not _is_admin_of(user, project):
            raise VFolderPermissionDenied("Only admins of the project's domain create its folders.")
        scope = f"project:{project.pk}"
        limit = project.resource_policy.max_vfolder_count
    else:
        scope = f"user:{user.pk}"
        limit = user.resource_policy.max_vfolder_count
    vfid = uuid.uuid4()
    try:
        with transaction.atomic():
            if limit:
                count, _ = scope_usage(quota_scope_id=scope)
                if count >= limit:
                    raise VFolderCountLimit(f"The limit of {limit} folders is reached.")
            vfolder = VFolder.objects.create(
                id=vfid,
                name=name,
                volume=volume,
                host=volume.name,
                quota_scope_id=scope,
                usage_mode=request.usage_mode,
                permission=request.permission,
                ownership_type=VFolderOwnership.PROJECT if project else VFolderOwnership.USER,
                user=None if project else user,
                project=project,
                domain_id=project.domain_id if project else user.domain_id,
                creator=user.email,
                cloneable=request.cloneable,
                max_size=_scope_limit(user=user, project=project),
            )
            storage = get_config().storage
            volume_backend(volume).folder_create(
                quota_scope_id=scope, vfolder_id=vfid, uid=storage.file_uid, gid=storage.file_gid
            )
    except IntegrityError:
        raise VFolderAlreadyExists(f"A folder named {name!r} already exists.") from None
    log.info("vfolder created", extra={"vfolder_id": str(vfid), "vfolder_host": volume.name})
    return vfolder


def _scope_limit(*, user: User, project: Project | None) -> int | None:
    size = (
        project.resource_policy.max_quota_scope_size
        if project
        else user.resource_policy.max_quota_scope_size
    )
    return None if size is None or size < 0 else size


def _require_host(user: User, access: VFolderAccess, permission: VFolderHostPermission) -> None:
    host_permission_require(user=user, host=access.vfolder.host, permission=permission)


def _require_manage(access: VFolderAccess, user: User) -> None:
    """Owner of a user folder, or an admin of a project folder's domain."""
    vfolder = access.vfolder
    if access.is_owner:
        return
    if vfolder.project_id is not None and _is_admin_of(user, vfolder.project):
        return
    if vfolder.user_id is not None and user.role == UserRole.SUPERADMIN:
        return
    if user.role == UserRole.ADMIN and vfolder.domain_id == user.domain_id and vfolder.user_id:
        return
    raise VFolderPermissionDenied("Only the folder's owner (or an admin) may do this.")


def vfolder_rename(*, user: User, access: VFolderAccess, new_name: str) -> VFolder:
    _require_manage(access, user)
    _require_host(user, access, VFolderHostPermission.MODIFY)
    vfolder = access.vfolder
    vfolder.name = vfolder_name_check(new_name)
    try:
        with transaction.atomic():
            vfolder.save(update_fields=["name"])
    except IntegrityError:
        raise VFolderAlreadyExists(f"A folder named {new_name!r} already exists.") from None
    return vfolder


def vfolder_update_options(
    *, user: User, access: VFolderAccess, permission: str | None, cloneable: bool | None
) -> VFolder:
    _require_manage(access, user)
    _require_host(user, access, VFolderHostPermission.MODIFY)
    vfolder = access.vfolder
    if permission is not None:
        if permission not in VFolderPermissionMode.values:
            raise InvalidAPIParameters("permission must be ro, rw or wd.")
        vfolder.permission = permission
    if cloneable is not None:
        vfolder.cloneable = bool(cloneable)
    vfolder.save(update_fields=["permission", "cloneable"])
    return vfolder


def vfolder_trash(*, user: User, access: VFolderAccess) -> VFolder:
    """Move to the trash bin (restorable); the files stay until purged."""
    _require_manage(access, user)
    _require_host(user, access, VFolderHostPermission.DELETE)
    with transaction.atomic():
        vfolder = VFolder.objects.select_for_update().get(pk=access.vfolder.pk)
        vfolder_status_move(vfolder, VFolderStatus.DELETE_PENDING)
    log.info("vfolder trashed", extra={"vfolder_id": str(vfolder.pk)})
    return vfolder


def vfolder_restore(*, user: User, access: VFolderAccess) -> VFolder:
    _require_manage(access, user)
    _require_host(user, access, VFolderHostPermission.DELETE)
    with transaction.atomic():
        vfolder = VFolder.objects.select_for_update().get(pk=access.vfolder.pk)
        vfolder_status_move(vfolder, VFolderStatus.READY)
    return vfolder


def vfolder_purge(*, user: User, access: VFolderAccess) -> VFolder:
    """Delete a trashed folder's files for good; refused while a live session mounts it."""
    _require_manage(access, user)
    _require_host(user, access, VFolderHostPermission.DELETE)
    users = vfolder_mount_users([access.vfolder.pk]).get(access.vfolder.pk)
    if users:
        raise VFolderInUse(
            f"The folder is mounted by {len(users)} live session(s).", data={"sessions": users}
        )
    with transaction.atomic():
        vfolder = (
            VFolder.objects.select_for_update().select_related("volume").get(pk=access.vfolder.pk)
        )
        if vfolder.status == VFolderStatus.READY:
            raise VFolderBadStatus("Move the folder to the trash bin before purging it.")
        vfolder_status_move(vfolder, VFolderStatus.DELETE_ONGOING)
    try:
        volume_backend(vfolder.volume).folder_delete(
            quota_scope_id=vfolder.quota_scope_id, vfolder_id=vfolder.pk
        )
    except OSError as exc:
        log.warning(
            "vfolder purge failed", extra={"vfolder_id": str(vfolder.pk), "error": str(exc)}
        )
        vfolder_status_move(vfolder, VFolderStatus.DELETE_ERROR)
        raise
    vfolder.cur_size = vfolder.num_files = 0
    vfolder.save(update_fields=["cur_size", "num_files"])
    vfolder_status_move(vfolder, VFolderStatus.DELETE_COMPLETE)
    log.info("vfolder purged", extra={"vfolder_id": str(vfolder.pk)})
    return vfolder


def vfolder_usage_refresh(vfolder: VFolder) -> VFolder:
    """Measure the folder on disk and store its file count and bytes used."""
    if vfolder.status not in VFolderStatus.live():
        return vfolder
    usage = volume_backend(vfolder.volume).folder_usage(
        quota_scope_id=vfolder.quota_scope_id, vfolder_id=vfolder.pk
    )
    VFolder.objects.filter(pk=vfolder.pk).update(
        num_files=usage.file_count, cur_size=usage.used_bytes, usage_updated_at=timezone.now()
    )
    vfolder.num_files, vfolder.cur_size = usage.file_count, usage.used_bytes
    return vfolder


def vfolders_usage_refresh_all() -> int:
    """The periodic backstop: re-measure every live folder."""
    count = 0
    qs = VFolder.objects.filter(status__in=sorted(VFolderStatus.live())).select_related("volume")
    for vfolder in qs.iterator():
        if vfolder_root(vfolder).exists():
            vfolder_usage_refresh(vfolder)
            count += 1
    return count
