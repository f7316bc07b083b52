"""Writing a kernel's dotfiles into its home folder (the scratch dir bound at /home/work) on the
host, before the container starts, so they are there when the bootstrap script runs.

The home folder may already hold what a user left there (a restarted kernel keeps its scratch
dir), symlinks included: every component is opened relative to the previous one's descriptor
without following links, so no dotfile lands outside the home folder. Folders made on the way
get mode 0755; files get their dotfile's mode; both are owned by the kernel's user.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from .models import KernelDotfile

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


def _chown(fd: int, uid: int, gid: int) -> None:
    if os.geteuid() == 0:
        os.fchown(fd, uid, gid)


def _open_parent(home_fd: int, parts: list[str], uid: int, gid: int) -> int:
    fd = os.dup(home_fd)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                _chown(child, uid, gid)
                os.close(child)
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_one(home_fd: int, dotfile: KernelDotfile, uid: int, gid: int) -> None:
    *folders, name = dotfile.path.split("/")
    parent = _open_parent(home_fd, folders, uid, gid)
    try:
        fd = os.open(name, _FILE_FLAGS, dotfile.mode, dir_fd=parent)
        try:
            os.fchmod(fd, dotfile.mode)  # not narrowed by the umask
            _chown(fd, uid, gid)
            data = dotfile.data.encode()
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    finally:
        os.close(parent)


def dotfiles_write(home: Path, dotfiles: list[KernelDotfile], *, uid: int, gid: int) -> list[str]:
    """Write `dotfiles` under `home`; returns the paths that could not be written (a folder
    in the way, a symlink, a full disk), which are logged and skipped, as a missing dotfile
    should not keep a session from starting."""
    if not dotfiles:
        return []
    skipped: list[str] = []
    home_fd = os.open(home, _DIR_FLAGS)
    try:
        for dotfile in dotfiles:
            try:
                _write_one(home_fd, dotfile, uid, gid)
            except OSError as exc:
                skipped.append(dotfile.path)
                log.warning("dotfile not written", extra={"path": dotfile.path, "error": str(exc)})
    finally:
        os.close(home_fd)
    return skipped
