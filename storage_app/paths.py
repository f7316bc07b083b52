"""Confining every path a request names to a folder's root.

A relative path is checked as text first (NUL bytes, absolute paths, `..`, over-long names). It is
then never resolved as a string: the directories on the way are opened one at a time from the
root's descriptor with `O_NOFOLLOW | O_DIRECTORY`, and the last component is acted on relative to
its parent's descriptor (`dir_fd=`) without following a link. A directory swapped for a symlink by
a session between a check and a use (a TOCTOU race) therefore fails with ELOOP instead of reaching
outside the folder. The price: the API does not traverse symlinks at all, even ones that point
inside the folder; it lists them, renames, moves and deletes the links themselves.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from .errors import VFolderFileNotFound, VFolderUnsafePath

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


def single_name(raw: str) -> str:
    """A new name for a file (rename-file): one path component."""
    rel = clean_relpath(raw)
    if len(rel.parts) != 1 or str(rel) == ".":
        raise VFolderUnsafePath(f"a name must be one path component: {raw!r}")
    return rel.parts[0]


DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _is_link_at(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _open_child_dir(parent_fd: int, name: str, raw: str) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        # with O_DIRECTORY Linux answers ENOTDIR rather than ELOOP for a link
        if exc.errno == errno.ELOOP or (
            exc.errno == errno.ENOTDIR and _is_link_at(parent_fd, name)
        ):
            raise VFolderUnsafePath(f"the path passes through a symbolic link: {raw!r}") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise VFolderFileNotFound(
                f"No directory on the way to {raw!r} in the folder."
            ) from None
        raise


@contextlib.contextmanager
def open_dir(
    root: Path,
    rel: PurePosixPath,
    *,
    raw: str = "",
    create: Callable[[int, str], None] | None = None,
) -> Iterator[int]:
    """A descriptor of the directory `root/rel`, walked from `root` one component at a time.

    With `create`, a missing component is made by `create(parent_fd, name)` (mkdir and chown
    relative to the parent) before it is opened, so even creation never follows a link.
    """
    fd = os.open(root, DIR_FLAGS)
    try:
        for part in rel.parts if str(rel) != "." else ():
            if create is not None:
                with contextlib.suppress(FileExistsError):
                    create(fd, part)
            child = _open_child_dir(fd, part, raw or str(rel))
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_parent(
    root: Path, raw: str, *, create: Callable[[int, str], None] | None = None
) -> Iterator[tuple[int, str]]:
    """The descriptor of the directory holding `raw`'s last component, and that component's name.

    The folder root itself has no parent inside the folder and is refused.
    """
    rel = clean_relpath(raw)
    if str(rel) == ".":
        raise VFolderUnsafePath("the folder root cannot be the target")
    with open_dir(root, rel.parent, raw=raw, create=create) as fd:
        yield fd, rel.name


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """The entry's own status (a link is not followed), or None when it does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def is_dir_at(dir_fd: int, name: str) -> bool:
    st = lstat_at(dir_fd, name)
    return st is not None and stat.S_ISDIR(st.st_mode)


def open_file_at(dir_fd: int, name: str, flags: int, mode: int = 0o644) -> int:
    """Open the entry `name` of an already-walked directory without following a link."""
    return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
