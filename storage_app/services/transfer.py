"""Transfer tokens (request-upload, request-download) and the database side of a transfer.

A token is signed with the site's secret and names the folder, the path inside it, the declared
size and an upload id; it is all the transfer endpoint trusts (the client sends no signature
there). The quota is checked here, before a byte is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core import signing
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from backendai_site.accounts.enums import UserStatus
from backendai_site.accounts.models import User
from backendai_site.common.vfolder_host_permissions import VFolderHostPermission
from backendai_site.config import get_config
from storage_app.enums import VFolderPermissionMode, VFolderStatus
from storage_app.errors import (
    VFolderFileExists,
    VFolderFileNotFound,
    VFolderNotFound,
    VFolderQuotaExceeded,
    VFolderTransferTokenInvalid,
    VFolderUnsafePath,
)
from storage_app.host_permissions import host_permission_require_by_id
from storage_app.models import StorageVolume, UploadReservation, VFolder
from storage_app.paths import (
    clean_relpath,
    is_dir_at,
    lstat_at,
    open_file_at,
    open_parent,
)
from storage_app.selectors import VFolderAccess, scope_usage, vfolder_access

from .files import folder_root_checked, mkdir_at
from .quota_scopes import quota_scope_limit
from .volumes import vfolder_root, volume_backend

log = logging.getLogger(__name__)

TOKEN_SALT = "bai.storage.transfer"
UPLOAD_PATH = "/vfolder-transfer/upload"
DOWNLOAD_PATH = "/vfolder-transfer/download"


@dataclass(frozen=True, slots=True)
class TransferToken:
    op: str  # upload | download
    vfolder_id: uuid.UUID
    relpath: str
    size: int
    upload_id: str
    user_id: uuid.UUID

    def dump(self) -> str:
        return signing.dumps(
            {"op": self.op, "vf": self.vfolder_id.hex, "p": self.relpath, "s": self.size,
             "u": self.upload_id, "uid": self.user_id.hex},
            salt=TOKEN_SALT,
        )  # fmt: skip

    @classmethod
    def load(cls, token: str, *, op: str) -> TransferToken:
        try:
            data: dict[str, Any] = signing.loads(
                token, salt=TOKEN_SALT, max_age=timedelta(seconds=get_config().storage.token_ttl)
            )
            parsed = cls(
                op=str(data["op"]),
                vfolder_id=uuid.UUID(str(data["vf"])),
                relpath=str(data["p"]),
                size=int(data["s"]),
                upload_id=str(data["u"]),
                user_id=uuid.UUID(str(data["uid"])),
            )
        except (signing.BadSignature, KeyError, ValueError, TypeError):
            raise VFolderTransferTokenInvalid() from None
        if parsed.op != op:
            raise VFolderTransferTokenInvalid("The token is for another operation.")
        return parsed


def vfolder_quota_limit(vfolder: VFolder) -> int | None:
    """Bytes the folder's quota scope may hold (an administrator's limit on the scope, else the
    owner's resource policy), capped by the folder's own max size."""
    size = quota_scope_limit(volume_id=vfolder.volume_id, quota_scope_id=vfolder.quota_scope_id)
    if size is None:
        size = -1
        if vfolder.project is not None:
            size = vfolder.project.resource_policy.max_quota_scope_size
        elif vfolder.user is not None:
            size = vfolder.user.resource_policy.max_quota_scope_size
    limits = [v for v in (size if size >= 0 else None, vfolder.max_size) if v is not None]
    return min(limits) if limits else None


def quota_check(vfolder: VFolder, *, adding: int, reserve_for: str | None = None) -> None:
    """Refuse `adding` more bytes past the folder's quota; with `reserve_for` (an upload id) the
    bytes are also reserved until that upload finishes or its token expires.

    Checks of one quota scope are serialized by a transaction-scoped advisory lock, so two
    concurrent request-uploads see each other's reservations."""
    limit = vfolder_quota_limit(vfolder)
    if limit is None:
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [vfolder.quota_scope_id])
        _, used = scope_usage(quota_scope_id=vfolder.quota_scope_id)
        reserved = int(
            UploadReservation.objects.filter(
                quota_scope_id=vfolder.quota_scope_id, expires_at__gt=timezone.now()
            ).aggregate(total=Sum("size"))["total"]
            or 0
        )
        if used + reserved + adding > limit:
            raise VFolderQuotaExceeded(
                f"{adding} more bytes would pass the quota ({used} of {limit} bytes used,"
                f" {reserved} reserved by uploads in progress).",
                data={
                    "used_bytes": used, "reserved_bytes": reserved,
                    "limit_bytes": limit, "requested_bytes": adding,
                },
            )  # fmt: skip
        if reserve_for is not None and adding > 0:
            UploadReservation.objects.create(
                upload_id=reserve_for,
                vfolder=vfolder,
                quota_scope_id=vfolder.quota_scope_id,
                size=adding,
                expires_at=timezone.now() + timedelta(seconds=get_config().storage.token_ttl),
            )


def upload_request(*, access: VFolderAccess, path: str, size: int) -> TransferToken:
    root = folder_root_checked(access, needed=VFolderPermissionMode.READ_WRITE)
    host_permission_require_by_id(
        user_id=access.user_id,
        host=access.vfolder.host,
        permission=VFolderHostPermission.UPLOAD_FILE,
    )
    if not isinstance(size, int) or size < 0:
        raise VFolderUnsafePath("size must be a non-negative integer")
    rel = clean_relpath(path)
    if str(rel) == ".":
        raise VFolderFileExists(f"{path!r} is a directory")
    try:
        with open_parent(root, path) as (fd, name):
            if is_dir_at(fd, name):
                raise VFolderFileExists(f"{path!r} is a directory")
    except VFolderFileNotFound:
        pass  # missing directories on the way are made when the upload finishes
    token = TransferToken(
        op="upload", vfolder_id=access.vfolder.pk, relpath=str(rel), size=size,
        upload_id=uuid.uuid4().hex, user_id=access.user_id,
    )  # fmt: skip
    quota_check(access.vfolder, adding=size, reserve_for=token.upload_id)
    if size == 0:
        # the client sends no PATCH for an empty file: it must exist now
        upload_finish(vfolder=access.vfolder, part=None, token=token, dst_dir=None)
    return token


def download_request(*, access: VFolderAccess, path: str) -> TransferToken:
    root = folder_root_checked(access, needed=VFolderPermissionMode.READ_ONLY)
    host_permission_require_by_id(
        user_id=access.user_id,
        host=access.vfolder.host,
        permission=VFolderHostPermission.DOWNLOAD_FILE,
    )
    try:
        with open_parent(root, path) as (fd, name):
            st = lstat_at(fd, name)
    except VFolderFileNotFound:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise VFolderNotFound(f"No file {path!r} in the folder.")
    return TransferToken(
        op="download", vfolder_id=access.vfolder.pk, relpath=str(clean_relpath(path)),
        size=st.st_size, upload_id="", user_id=access.user_id,
    )  # fmt: skip


def transfer_url(base: str, path: str) -> str:
    configured = get_config().storage.transfer_base_url
    return (configured or base).rstrip("/") + path


# --- what the transfer endpoint asks the database (called through sync_to_async) -------------


@dataclass(frozen=True, slots=True)
class TransferTarget:
    vfolder_id: uuid.UUID
    root: Path
    staging: Path


def transfer_target_load(token: TransferToken, *, writable: bool) -> TransferTarget:
    """The folder of a token, if it is still usable and its holder still may use it (access may
    have been revoked since the token was issued); the connection goes back to the pool."""
    try:
        vfolder = VFolder.objects.select_related("volume").filter(pk=token.vfolder_id).first()
        if vfolder is None or vfolder.status not in VFolderStatus.usable():
            raise VFolderNotFound("The folder is gone or not usable.")
        user = User.objects.filter(pk=token.user_id, status=UserStatus.ACTIVE).first()
        if user is None:
            raise VFolderTransferTokenInvalid("The token's user is no longer active.")
        vfolder_access(user=user, vfolder=vfolder).require(
            VFolderPermissionMode.READ_WRITE if writable else VFolderPermissionMode.READ_ONLY
        )
        backend = volume_backend(vfolder.volume)
        return TransferTarget(
            vfolder_id=vfolder.pk,
            root=vfolder_root(vfolder).resolve(),
            staging=backend.staging_dir() if writable else backend.mount_path,
        )
    finally:
        connection.close()


def upload_finish(
    *, vfolder: VFolder | uuid.UUID, part: Path | None, token: TransferToken, dst_dir: str | None
) -> Path:
    """Move a complete upload into place (one rename: never an interleaved file); count it."""
    if not isinstance(vfolder, VFolder):
        vfolder = VFolder.objects.select_related("volume").get(pk=vfolder)
    root = vfolder_root(vfolder).resolve()
    rel = str(clean_relpath(dst_dir or ".") / token.relpath)
    storage = get_config().storage
    with open_parent(root, rel, create=mkdir_at) as (fd, name):
        existing = lstat_at(fd, name)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise VFolderFileExists(f"{rel!r} is a directory")
        old_size = (
            existing.st_size if existing is not None and stat.S_ISREG(existing.st_mode) else None
        )
        if part is None:
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                os.unlink(name, dir_fd=fd)  # replace a link itself, never what it points at
            os.close(open_file_at(fd, name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
        else:
            # a rename replaces a link itself, never what it points at
            os.replace(part, name, dst_dir_fd=fd)
        if os.geteuid() == 0:
            os.chown(name, storage.file_uid, storage.file_gid, dir_fd=fd, follow_symlinks=False)
    UploadReservation.objects.filter(upload_id=token.upload_id).delete()
    VFolder.objects.filter(pk=vfolder.pk).update(
        cur_size=F("cur_size") + token.size - (old_size or 0),
        num_files=F("num_files") + (0 if old_size is not None else 1),
        last_used=timezone.now(),
    )
    log.info(
        "vfolder upload complete",
        extra={"vfolder_id": str(vfolder.pk), "bytes": token.size},
    )
    return root / rel


def upload_finish_closing(
    *, vfolder_id: uuid.UUID, part: Path, token: TransferToken, dst_dir: str | None
) -> Path:
    """`upload_finish` for the transfer endpoint's worker threads: the connection goes back."""
    close_old_connections()
    try:
        return upload_finish(vfolder=vfolder_id, part=part, token=token, dst_dir=dst_dir)
    finally:
        connection.close()


def uploads_sweep(*, older_than: float) -> int:
    """Remove partial uploads nobody touched for `older_than` seconds (their tokens expired)."""
    removed = 0
    cutoff = time.time() - older_than
    for volume in StorageVolume.objects.filter(is_active=True):
        staging = volume_backend(volume).staging_dir()
        for part in staging.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    removed += 1
    UploadReservation.objects.filter(expires_at__lte=timezone.now()).delete()
    return removed
