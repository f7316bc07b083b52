"""Session files, confined to the work directory."""

from __future__ import annotations

import base64
import os
import stat
import tarfile
from typing import TYPE_CHECKING

from . import heuristics, protocol
from .protocol import Message, RunnerError, require

if TYPE_CHECKING:
    from .connection import Connection

MAX_FILE_CHUNK = 8 * 1024 * 1024  # base64 of this stays well under MAX_LINE
ARCHIVE_CHUNK = 1024 * 1024  # what one archive-chunk message carries (memory stays ~ a few MiB)


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
    heuristics.note_upload(target)
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


class _ChunkSender:
    """A write-only file for `tarfile` (stream mode) that sends every ARCHIVE_CHUNK bytes as one
    `archive-chunk` message. `Connection.send` blocks while the socket is full, so a slow
    reader slows the archive down instead of letting it pile up in memory."""

    def __init__(self, conn: Connection, request_id: object) -> None:
        self.conn = conn
        self.request_id = request_id
        self.buffer = bytearray()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) >= ARCHIVE_CHUNK:
            self._send(bytes(self.buffer[:ARCHIVE_CHUNK]))
            del self.buffer[:ARCHIVE_CHUNK]
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self._send(bytes(self.buffer))
            self.buffer.clear()

    def _send(self, chunk: bytes) -> None:
        if not self.conn.alive:
            raise RunnerError("closed", "the client went away")
        self.size += len(chunk)
        self.conn.send(
            {
                "type": "archive-chunk",
                "id": self.request_id,
                "data": base64.b64encode(chunk).decode("ascii"),
            }
        )


def h_file_stat(conn: Connection, msg: Message) -> Message:
    target = _confined(require(msg, "path"))
    try:
        info = os.stat(target)
    except OSError:
        raise RunnerError("not-found", "no such file") from None
    return {"type": "stat", "is_dir": stat.S_ISDIR(info.st_mode), "size": info.st_size}


def h_file_archive(conn: Connection, msg: Message) -> Message:
    """A tar archive of one file or folder, streamed: `archive-chunk` messages (base64 of at
    most ARCHIVE_CHUNK bytes each, same `id`), then the reply `archive` with the total size.
    The archive is never held whole in memory."""
    target = _confined(require(msg, "path"))
    if not os.path.exists(target):
        raise RunnerError("not-found", "no such file")
    sender = _ChunkSender(conn, msg.get("id"))
    try:
        with tarfile.open(fileobj=sender, mode="w|") as tar:  # type: ignore[call-overload]
            tar.add(target, arcname=os.path.basename(target) or ".")
    except OSError as exc:
        raise RunnerError("file-error", str(exc)) from None
    sender.flush()
    return {"type": "archive", "size": sender.size, "more": False}
