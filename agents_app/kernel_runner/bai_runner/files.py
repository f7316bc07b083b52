"""Session files, confined to the work directory."""

from __future__ import annotations

import base64
import io
import os
import stat
import tarfile
from typing import TYPE_CHECKING

from . import protocol
from .protocol import Message, RunnerError, require

if TYPE_CHECKING:
    from .connection import Connection

MAX_FILE_CHUNK = 8 * 1024 * 1024  # base64 of this stays well under MAX_LINE


def _confined(path: object) -> str:
    """The real path of `path` (relative to the workdir, or absolute inside it)."""
    if not isinstance(path, str) or "\x00" in path:
        raise RunnerError("bad-request", "path must be a string")
    root = os.path.realpath(protocol.CONFIG.workdir)
    target = os.path.realpath(os.path.join(root, path))
    if target != root and not target.startswith(root + os.sep):
        raise RunnerError("forbidden-path", "path is outside the work directory")
    return target


def h_file_write(conn: Connection, msg: Message) -> Message:
    target = _confined(require(msg, "path"))
    try:
        data = base64.b64decode(str(msg.get("data", "")), validate=True)
    except ValueError:
        raise RunnerError("bad-request", "data must be base64") from None
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "ab" if msg.get("append") else "wb") as fh:
            fh.write(data)
        size = os.path.getsize(target)
    except OSError as exc:
        raise RunnerError("file-error", str(exc)) from None
    return {"type": "ok", "size": size}


def h_file_list(conn: Connection, msg: Message) -> Message:
    folder = _confined(msg.get("path") or ".")
    if not os.path.isdir(folder):
        raise RunnerError("not-found", "no such directory")
    entries = []
    for name in sorted(os.listdir(folder)):
        try:
            info = os.lstat(os.path.join(folder, name))
        except OSError:
            continue
        entries.append(
            {
                "filename": name,
                "size": info.st_size,
                "mtime": info.st_mtime,
                "mode": stat.filemode(info.st_mode),
            }
        )
    return {"type": "files", "abspath": folder, "files": entries}


def h_file_archive(conn: Connection, msg: Message) -> Message:
    """A tar archive of one file or folder, returned in base64 chunks of MAX_FILE_CHUNK."""
    target = _confined(require(msg, "path"))
    if not os.path.exists(target):
        raise RunnerError("not-found", "no such file")
    offset = int(msg.get("offset", 0))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(target, arcname=os.path.basename(target) or ".")
    data = buffer.getvalue()
    chunk = data[offset : offset + MAX_FILE_CHUNK]
    return {
        "type": "archive",
        "data": base64.b64encode(chunk).decode("ascii"),
        "size": len(data),
        "more": offset + len(chunk) < len(data),
    }
