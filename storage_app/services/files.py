"""File operations inside a folder: list, mkdir, rename, move, delete.

Every path is walked from the folder root by descriptor (`storage_app.paths`), and each change is
made relative to its parent directory's descriptor: nothing here touches a path outside the root,
even while a session swaps directories for symlinks underneath.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from backendai_site.config import get_config
from storage_app.enums import VFolderPermissionMode, VFolderStatus
from storage_app.errors import (
    VFolderBadStatus,
    VFolderFileExists,
    VFolderFileNotFound,
    VFolderUnsafePath,
)
from storage_app.models import VFolder
from storage_app.paths import (
    clean_relpath,
    is_dir_at,
    lstat_at,
    open_dir,
    open_parent,
    single_name,
)
from storage_app.selectors import VFolderAccess

from .folders import vfolder_usage_refresh
from .volumes import vfolder_root

log = logging.getLogger(__name__)

LIST_LIMIT = 10_000


def folder_root_checked(access: VFolderAccess, *, needed: str) -> Path:
    """The folder's resolved root, after the permission and status checks."""
    access.require(needed)
    if access.vfolder.status not in VFolderStatus.usable():
        raise VFolderBadStatus(f"The folder is {access.vfolder.status}.")
    root = vfolder_root(access.vfolder).resolve()
    if not root.is_dir():
        raise VFolderFileNotFound("The folder's directory is missing on its volume.")
    return root


def mkdir_at(parent_fd: int, name: str) -> None:
    """Make one directory relative to its parent's descriptor, owned by the kernel user."""
    os.mkdir(name, 0o755, dir_fd=parent_fd)
    if os.geteuid() == 0:
        storage = get_config().storage
        os.chown(name, storage.file_uid, storage.file_gid, dir_fd=parent_fd, follow_symlinks=False)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "DIRECTORY"
    if stat.S_ISLNK(mode):
        return "SYMLINK"
    return "FILE"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def files_list(*, access: VFolderAccess, path: str) -> list[dict[str, Any]]:
    root = folder_root_checked(access, needed=VFolderPermissionMode.READ_ONLY)
    items: list[dict[str, Any]] = []
    with open_dir(root, clean_relpath(path), raw=path) as fd, os.scandir(fd) as it:
        for entry in it:
            st = entry.stat(follow_symlinks=False)
            items.append(
                {
                    "name": entry.name,
                    "type": _kind(st.st_mode),
                    "size": st.st_size,
                    "mode": oct(st.st_mode),
                    "created": _iso(st.st_ctime),
                    "modified": _iso(st.st_mtime),
                }
            )
            if len(items) >= LIST_LIMIT:
                break
    items.sort(key=lambda item: item["name"])
    return items


def files_mkdir(
    *, access: VFolderAccess, paths: Sequence[str], parents: bool, exist_ok: bool
) -> dict[str, list[dict[str, Any]]]:
    """One result per path: success, or failed with the reason (the client expects a 2xx)."""
    root = folder_root_checked(access, needed=VFolderPermissionMode.READ_WRITE)
    success: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for raw in paths:
        try:
            with open_parent(root, raw, create=mkdir_at if parents else None) as (fd, name):
                try:
                    mkdir_at(fd, name)
                except FileExistsError:
                    if not (exist_ok and is_dir_at(fd, name)):
                        raise VFolderFileExists(f"{raw} already exists") from None
            success.append({"item": raw, "msg": None})
        except (VFolderUnsafePath, VFolderFileNotFound, VFolderFileExists) as exc:
            failed.append({"item": raw, "msg": exc.msg or exc.title})
        except OSError as exc:
            failed.append({"item": raw, "msg": exc.strerror or str(exc)})
    _touch(access.vfolder)
    return {"success": success, "failed": failed}


def _require_entry(fd: int, name: str, raw: str) -> os.stat_result:
    st = lstat_at(fd, name)
    if st is None:
        raise VFolderFileNotFound(f"No such file or directory: {raw!r}")
    return st


def files_rename(*, access: VFolderAccess, target_path: str, new_name: str) -> None:
    root = folder_root_checked(access, needed=VFolderPermissionMode.READ_WRITE)
    new = single_name(new_name)
    with open_parent(root, target_path) as (fd, name):
        _require_entry(fd, name, target_path)
        if lstat_at(fd, new) is not None:
            raise VFolderFileExists(f"{new_name!r} already exists")
        os.rename(name, new, src_dir_fd=fd, dst_dir_fd=fd)
    _touch(access.vfolder)


def files_move(*, access: VFolderAccess, src: str, dst: str) -> None:
    """Move `src` to `dst`; a `dst` that is a directory (or ends in `/`) receives it."""
    root = folder_root_checked(access, needed=VFolderPermissionMode.READ_WRITE)
    source = clean_relpath(src)
    target = clean_relpath(dst)
    if str(target) == "." or dst.endswith("/"):
        target = target / source.name
    else:
        with open_parent(root, dst) as (fd, name):
            if is_dir_at(fd, name):
                target = target / source.name
    if target == source:
        return
    # no link is ever traversed, so the textual paths are the real ones
    if target.is_relative_to(source):
        raise VFolderUnsafePath("cannot move a directory into itself")
    with (
        open_parent(root, src) as (src_fd, src_name),
        open_parent(root, str(target)) as (
            dst_fd,
            dst_name,
        ),
    ):
        _require_entry(src_fd, src_name, src)
        if lstat_at(dst_fd, dst_name) is not None:
            raise VFolderFileExists(f"{dst!r} already exists")
        os.rename(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    _touch(access.vfolder)


def files_delete(*, access: VFolderAccess, files: Sequence[str], recursive: bool) -> None:
    root = folder_root_checked(access, needed=VFolderPermissionMode.RW_DELETE)
    for raw in files:  # all must exist before anything is deleted
        with open_parent(root, raw) as (fd, name):
            st = _require_entry(fd, name, raw)
            if stat.S_ISDIR(st.st_mode) and not recursive:
                raise VFolderFileExists(f"{raw} is a directory; use recursive deletion")
    for raw in files:
        with open_parent(root, raw) as (fd, name):
            current = lstat_at(fd, name)
            if current is None:
                continue
            if stat.S_ISDIR(current.st_mode):
                # the descriptor-based rmtree never follows a link planted inside the tree
                shutil.rmtree(name, dir_fd=fd)
            else:
                os.unlink(name, dir_fd=fd)
    _touch(access.vfolder)
    vfolder_usage_refresh(access.vfolder)


def _touch(vfolder: VFolder) -> None:
    VFolder.objects.filter(pk=vfolder.pk).update(last_used=timezone.now())
