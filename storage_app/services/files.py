"""File operations inside a folder: list, mkdir, rename, move, delete.

Every path goes through `resolve_in_root`; nothing here touches a path outside the folder root.
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
from storage_app.paths import clean_relpath, resolve_in_root, single_name
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


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        storage = get_config().storage
        os.chown(path, storage.file_uid, storage.file_gid, follow_symlinks=False)


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
    target = resolve_in_root(root, path)
    if not target.is_dir():
        raise VFolderFileNotFound(f"No directory {path!r} in the folder.")
    items: list[dict[str, Any]] = []
    with os.scandir(target) as it:
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
            target = resolve_in_root(root, raw)
            if target == root:
                raise VFolderUnsafePath("the folder root already exists")
            if not parents and not target.parent.is_dir():
                raise VFolderFileNotFound(f"the parent of {raw!r} does not exist")
            created = _mkdirs(root, target, exist_ok=exist_ok)
            for path in created:
                _chown(path)
            success.append({"item": raw, "msg": None})
        except (VFolderUnsafePath, VFolderFileNotFound, VFolderFileExists) as exc:
            failed.append({"item": raw, "msg": exc.msg or exc.title})
        except OSError as exc:
            failed.append({"item": raw, "msg": exc.strerror or str(exc)})
    _touch(access.vfolder)
    return {"success": success, "failed": failed}


def _mkdirs(root: Path, target: Path, *, exist_ok: bool) -> list[Path]:
    missing: list[Path] = []
    cursor = target
    while cursor != root and not cursor.exists():
        missing.append(cursor)
        cursor = cursor.parent
    if not missing:
        if target.is_dir() and exist_ok:
            return []
        raise VFolderFileExists(f"{target.relative_to(root)} already exists")
    for path in reversed(missing):
        os.mkdir(path, 0o755)
    return list(reversed(missing))


def files_rename(*, access: VFolderAccess, target_path: str, new_name: str) -> None:
    root = folder_root_checked(access, needed=VFolderPermissionMode.READ_WRITE)
    src = _existing(root, target_path)
    dst = resolve_in_root(root, str(src.parent.relative_to(root) / single_name(new_name)))
    if dst.exists() or dst.is_symlink():
        raise VFolderFileExists(f"{new_name!r} already exists")
    os.rename(src, dst)
    _touch(access.vfolder)


def files_move(*, access: VFolderAccess, src: str, dst: str) -> None:
    """Move `src` to `dst`; a `dst` that is a directory (or ends in `/`) receives it."""
    root = folder_root_checked(access, needed=VFolderPermissionMode.READ_WRITE)
    source = _existing(root, src)
    target = resolve_in_root(root, dst)
    if target.is_dir() or dst.endswith("/"):
        target = resolve_in_root(root, str(target.relative_to(root) / source.name))
    if target == source:
        return
    if target.exists() or target.is_symlink():
        raise VFolderFileExists(f"{dst!r} already exists")
    if source.is_dir() and target.is_relative_to(source):
        raise VFolderUnsafePath("cannot move a directory into itself")
    if not target.parent.is_dir():
        raise VFolderFileNotFound(f"the directory of {dst!r} does not exist")
    os.rename(source, target)
    _touch(access.vfolder)


def files_delete(*, access: VFolderAccess, files: Sequence[str], recursive: bool) -> None:
    root = folder_root_checked(access, needed=VFolderPermissionMode.RW_DELETE)
    targets = [_existing(root, raw) for raw in files]
    for path in targets:
        if path.is_dir() and not path.is_symlink():
            if not recursive:
                raise VFolderFileExists(
                    f"{path.relative_to(root)} is a directory; use recursive deletion"
                )
            shutil.rmtree(path)
        else:
            path.unlink()
    _touch(access.vfolder)
    vfolder_usage_refresh(access.vfolder)


def _existing(root: Path, raw: str) -> Path:
    """An existing entry named by `raw`; a symlink is the link itself, not where it points."""
    rel = clean_relpath(raw)
    if str(rel) == ".":
        raise VFolderUnsafePath("the folder root cannot be the target")
    parent = resolve_in_root(root, str(rel.parent))
    path = parent / rel.name
    if not (path.exists() or path.is_symlink()):
        raise VFolderFileNotFound(f"No such file or directory: {raw!r}")
    return path


def _touch(vfolder: VFolder) -> None:
    VFolder.objects.filter(pk=vfolder.pk).update(last_used=timezone.now())
