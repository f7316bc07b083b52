"""Session files through the kernel runner (COMPAT.md 4.2): upload, list, download as tar.

Paths are relative to `/home/work` or absolute inside it; anything that leaves it (`..`, another
absolute path) is refused here with a 400 before the runner is asked, and the runner refuses a
symlink that escapes.
"""

from __future__ import annotations

import json
import logging
import posixpath
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.errors import FilePathNotAllowed

from .execute import KernelEndpoint, runner_connect, session_access_touch

log = logging.getLogger(__name__)

WORKDIR = "/home/work"
UPLOAD_CHUNK = 4 * 1024 * 1024


def work_relative_path(path: str, *, allow_root: bool = False) -> str:
    """`path` relative to /home/work, normalised; raises FilePathNotAllowed when it escapes."""
    if not path or "\x00" in path:
        if allow_root and not path:
            return "."
        raise FilePathNotAllowed(data={"path": path})
    joined = posixpath.normpath(posixpath.join(WORKDIR, path))
    if joined == WORKDIR:
        if allow_root:
            return "."
        raise FilePathNotAllowed(data={"path": path})
    if not joined.startswith(WORKDIR + "/"):
        raise FilePathNotAllowed(data={"path": path})
    return joined[len(WORKDIR) + 1 :]


@dataclass(frozen=True, slots=True)
class UploadItem:
    """One uploaded file: its target path and a blocking `read(n)` of its content."""

    path: str
    read: Callable[[int], bytes]


async def session_files_upload(*, endpoint: KernelEndpoint, items: Sequence[UploadItem]) -> int:
    """Write every item under /home/work (parents created); returns the bytes written."""
    targets = [(work_relative_path(item.path), item) for item in items]
    if not targets:
        raise InvalidAPIParameters("No file was uploaded (multipart field 'src').")
    await session_access_touch(endpoint.session_id)
    total = 0
    async with runner_connect(endpoint) as runner:
        for target, item in targets:
            append = False
            while True:
                chunk = await sync_to_async(item.read, thread_sensitive=False)(UPLOAD_CHUNK)
                if not chunk and append:
                    break
                await runner.file_write(target, chunk, append=append)
                total += len(chunk)
                append = True
                if not chunk:
                    break
    log.info(
        "files uploaded",
        extra={"session_id": str(endpoint.session_id), "files": len(targets), "bytes": total},
    )
    return total


async def session_files_list(*, endpoint: KernelEndpoint, path: str) -> dict[str, Any]:
    """The `files` response: the list JSON-encoded as a string (the client decodes it)."""
    relative = work_relative_path(path, allow_root=True)
    await session_access_touch(endpoint.session_id)
    async with runner_connect(endpoint) as runner:
        reply = await runner.file_list(relative)
    return {"files": json.dumps(reply["files"]), "errors": "", "abspath": reply["abspath"]}


async def session_files_archive(*, endpoint: KernelEndpoint, paths: Sequence[str]) -> list[bytes]:
    """One tar archive per requested path, in order."""
    relatives = [work_relative_path(p) for p in paths]
    if not relatives:
        raise InvalidAPIParameters("Name at least one file (?files=...).")
    await session_access_touch(endpoint.session_id)
    archives = []
    async with runner_connect(endpoint) as runner:
        for relative in relatives:
            archives.append(b"".join([chunk async for chunk in runner.file_archive(relative)]))
    return archives


def multipart_mixed(parts: Sequence[tuple[str, bytes]]) -> tuple[str, bytes]:
    """(content type, body) of a multipart/mixed response with one tar part per file."""
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for filename, data in parts:
        name = posixpath.basename(filename.rstrip("/")) or "archive"
        safe = json.dumps(name + ".tar")  # quoted, escaped
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/x-tar\r\n"
            f"Content-Disposition: attachment; filename={safe}\r\n\r\n".encode()
        )
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/mixed; boundary={boundary}", b"".join(chunks)
