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
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.config import get_config
from sessions_app.errors import FilePathNotAllowed, UploadTooLarge

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


def upload_size_check(size: int | None) -> None:
    """Refuse an upload of `size` bytes (a request's Content-Length, or the files' total)."""
    limit = get_config().sessions.upload_max_bytes
    if size is not None and size > limit:
        raise UploadTooLarge(
            f"The upload ({size} bytes) is larger than {limit} bytes.", data={"limit": limit}
        )


@dataclass(frozen=True, slots=True)
class UploadItem:
    """One uploaded file: its target path, its size when known and a blocking `read(n)`."""

    path: str
    read: Callable[[int], bytes]
    size: int | None = None


async def session_files_upload(*, endpoint: KernelEndpoint, items: Sequence[UploadItem]) -> int:
    """Write every item under /home/work (parents created); returns the bytes written."""
    targets = [(work_relative_path(item.path), item) for item in items]
    if not targets:
        raise InvalidAPIParameters("No file was uploaded (multipart field 'src').")
    upload_size_check(sum(item.size or 0 for item in items))
    await session_access_touch(endpoint.session_id)
    total = 0
    async with runner_connect(endpoint) as runner:
        for target, item in targets:
            append = False
            while True:
                chunk = await sync_to_async(item.read, thread_sensitive=False)(UPLOAD_CHUNK)
                if not chunk and append:
                    break
                upload_size_check(total + len(chunk))  # sizes that were not known up front
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


async def session_files_check(*, endpoint: KernelEndpoint, paths: Sequence[str]) -> list[str]:
    """The work-relative paths of a download, each confirmed to exist (a 4xx before any byte
    of the response is sent)."""
    relatives = [work_relative_path(p) for p in paths]
    if not relatives:
        raise InvalidAPIParameters("Name at least one file (?files=...).")
    await session_access_touch(endpoint.session_id)
    async with runner_connect(endpoint) as runner:
        for relative in relatives:
            await runner.file_stat(relative)
    return relatives


@dataclass(frozen=True, slots=True)
class ArchiveDownload:
    """A multipart/mixed body with one tar part per path, streamed from the runner: neither
    the runner nor this process holds an archive whole."""

    endpoint: KernelEndpoint
    names: Sequence[str]  # as requested (they name the parts)
    relatives: Sequence[str]  # from session_files_check
    boundary: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def content_type(self) -> str:
        return f"multipart/mixed; boundary={self.boundary}"

    async def body(self) -> AsyncIterator[bytes]:
        async with runner_connect(self.endpoint) as runner:
            for name, relative in zip(self.names, self.relatives, strict=True):
                yield _part_header(self.boundary, name)
                async for chunk in runner.file_archive(relative):
                    yield chunk
                yield b"\r\n"
        yield f"--{self.boundary}--\r\n".encode()
        log.info(
            "files downloaded",
            extra={"session_id": str(self.endpoint.session_id), "files": len(self.relatives)},
        )


def _part_header(boundary: str, filename: str) -> bytes:
    name = posixpath.basename(filename.rstrip("/")) or "archive"
    safe = json.dumps(name + ".tar")  # quoted, escaped
    return (
        f"--{boundary}\r\nContent-Type: application/x-tar\r\n"
        f"Content-Disposition: attachment; filename={safe}\r\n\r\n"
    ).encode()
