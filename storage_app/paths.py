"""Confining every path a request names to a folder's root.

A relative path is checked as text first (NUL bytes, absolute paths, over-long names), then
resolved with symlinks followed and required to stay under the root. Writers also open the last
component with `O_NOFOLLOW`, so a symlink created after the check (from inside a session) cannot
redirect a write out of the folder.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from .errors import VFolderUnsafePath

NAME_MAX = 255
PATH_MAX = 4096


def clean_relpath(raw: str) -> PurePosixPath:
    """The normalized relative path, or VFolderUnsafePath. `.` and `` mean the root."""
    if not isinstance(raw, str):
        raise VFolderUnsafePath("paths must be strings")
    if "\x00" in raw:
        raise VFolderUnsafePath("NUL bytes are not allowed in paths")
    if len(raw.encode("utf-8", "surrogateescape")) > PATH_MAX:
        raise VFolderUnsafePath(f"paths are limited to {PATH_MAX} bytes")
    if raw.startswith("/") or raw.startswith("\\"):
        raise VFolderUnsafePath(f"absolute paths are not allowed: {raw!r}")
    parts: list[str] = []
    for part in raw.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise VFolderUnsafePath(f"'..' is not allowed in paths: {raw!r}")
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise VFolderUnsafePath(f"names are limited to {NAME_MAX} bytes")
        parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def resolve_in_root(root: Path, raw: str) -> Path:
    """`root/raw` with symlinks resolved, guaranteed inside `root` (which must be resolved)."""
    rel = clean_relpath(raw)
    target = (root / rel).resolve(strict=False)
    if target != root and not target.is_relative_to(root):
        raise VFolderUnsafePath(f"the path leaves the folder: {raw!r}")
    return target


def single_name(raw: str) -> str:
    """A new name for a file (rename-file): one path component."""
    rel = clean_relpath(raw)
    if len(rel.parts) != 1 or str(rel) == ".":
        raise VFolderUnsafePath(f"a name must be one path component: {raw!r}")
    return rel.parts[0]


def open_for_write(path: Path, flags: int = os.O_WRONLY | os.O_CREAT, mode: int = 0o644) -> int:
    """Open a file under an already-checked path without following a symlink at its end."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
