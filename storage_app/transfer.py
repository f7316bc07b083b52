"""The transfer endpoints as plain ASGI: tus 1.0 upload and ranged download.

Mounted in front of Django (backendai_site/asgi.py) so request bodies are never spooled: each
PATCH body is written with `os.pwrite` as it arrives, and downloads go out in 1 MiB reads. The
only credential is the signed token from request-upload / request-download (COMPAT.md section 7).
"""

from __future__ import annotations

import asyncio
import email.utils
import fcntl
import json
import logging
import os
import stat
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async

from backendai_site.common.errors import (
    BackendError,
    InvalidAPIParameters,
    MethodNotAllowed,
    NotFound,
)
from storage_app.errors import (
    VFolderFileNotFound,
    VFolderTransferTokenInvalid,
    VFolderUploadConflict,
)
from storage_app.paths import clean_relpath, open_file_at, open_parent
from storage_app.services.transfer import (
    DOWNLOAD_PATH,
    UPLOAD_PATH,
    TransferToken,
    transfer_target_load,
    upload_finish_closing,
)

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/vfolder-transfer/"
CHUNK = 4 * 1024 * 1024  # download read size
WRITE_BATCH = 4 * 1024 * 1024
MAX_IOV = 512  # below IOV_MAX (1024)
TUS_VERSION = b"1.0.0"
TUS_MAX_SIZE = 1 << 50
STATUS_FOR_KIND = {
    "invalid": 400, "unauthorized": 401, "forbidden": 403, "not-found": 404,
    "method-not-allowed": 405, "conflict": 409, "unavailable": 503,
}  # fmt: skip

_load_target = sync_to_async(transfer_target_load, thread_sensitive=False)
_finish = sync_to_async(upload_finish_closing, thread_sensitive=False)


class TransferError(Exception):
    def __init__(self, error: BackendError, status: int | None = None, offset: int | None = None):
        super().__init__(error.msg)
        self.error = error
        self.status = status or STATUS_FOR_KIND.get(error.kind, 500)
        self.offset = offset


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", [])}


def _query(scope: Scope) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {k: v[-1] for k, v in parsed.items()}


def _token(scope: Scope, op: str) -> TransferToken:
    raw = _query(scope).get("token")
    if not raw:
        raise TransferError(VFolderTransferTokenInvalid("The token query parameter is missing."))
    try:
        return TransferToken.load(raw, op=op)
    except BackendError as exc:
        raise TransferError(exc) from None


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _problem(send: Send, exc: TransferError) -> None:
    body = json.dumps(exc.error.as_problem()).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"tus-resumable", TUS_VERSION),
    ]
    if exc.offset is not None:
        headers.append((b"upload-offset", str(exc.offset).encode()))
    await _respond(send, exc.status, headers, body)


def transfer_wrap(app: ASGIApp) -> ASGIApp:
    """Serve `/vfolder-transfer/*` here; pass everything else to `app`."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await app(scope, receive, send)
            return
        try:
            await _dispatch(scope, receive, send)
        except TransferError as exc:
            await _problem(send, exc)

    return wrapped


async def _dispatch(scope: Scope, receive: Receive, send: Send) -> None:
    path, method = scope["path"], scope["method"]
    if path == UPLOAD_PATH:
        match method:
            case "PATCH":
                await _upload_patch(scope, receive, send)
            case "HEAD":
                await _upload_head(scope, send)
            case "OPTIONS":
                await _respond(send, 204, [
                    (b"tus-resumable", TUS_VERSION), (b"tus-version", TUS_VERSION),
                    (b"tus-extension", b""), (b"tus-max-size", str(TUS_MAX_SIZE).encode()),
                ])  # fmt: skip
            case _:
                raise TransferError(MethodNotAllowed(f"{method} is not allowed here."))
    elif path == DOWNLOAD_PATH:
        if method not in ("GET", "HEAD"):
            raise TransferError(MethodNotAllowed(f"{method} is not allowed here."))
        await _download(scope, send, head_only=method == "HEAD")
    else:
        raise TransferError(NotFound("Unknown transfer endpoint."))


def _part_path(staging: Path, token: TransferToken) -> Path:
    return staging / f"{token.upload_id}.part"


async def _upload_head(scope: Scope, send: Send) -> None:
    token = _token(scope, "upload")
    target = await _load(token, writable=True)
    part = _part_path(target.staging, token)
    offset = part.stat().st_size if part.exists() else 0
    await _respond(send, 200, [
        (b"upload-offset", str(offset).encode()), (b"upload-length", str(token.size).encode()),
        (b"tus-resumable", TUS_VERSION), (b"cache-control", b"no-store"),
    ])  # fmt: skip


async def _load(token: TransferToken, *, writable: bool) -> Any:
    try:
        return await _load_target(token, writable=writable)
    except BackendError as exc:
        raise TransferError(exc) from None


async def _upload_patch(scope: Scope, receive: Receive, send: Send) -> None:
    token = _token(scope, "upload")
    headers = _headers(scope)
    try:
        offset = int(headers.get(b"upload-offset", b""))
        length = int(headers[b"content-length"]) if b"content-length" in headers else None
    except ValueError:
        raise TransferError(InvalidAPIParameters("Upload-Offset must be an integer.")) from None
    dst_dir = _query(scope).get("dst_dir")
    target = await _load(token, writable=True)
    if dst_dir:
        try:
            clean_relpath(dst_dir)  # the directories are walked and made when the upload ends
        except BackendError as exc:
            raise TransferError(exc) from None
    part = _part_path(target.staging, token)
    fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TransferError(
                VFolderUploadConflict("Another request is writing this upload.")
            ) from None
        current = os.fstat(fd).st_size
        if offset != current:
            raise TransferError(
                VFolderUploadConflict(f"Upload-Offset is {offset}; the upload is at {current}."),
                offset=current,
            )
        if length is not None and offset + length > token.size:
            raise TransferError(
                InvalidAPIParameters("The chunk passes the size declared at request-upload."),
                status=413,
            )
        current = await _write_body(fd, receive, current, token.size)
    finally:
        os.close(fd)
    if current == token.size:
        try:
            await _finish(vfolder_id=target.vfolder_id, part=part, token=token, dst_dir=dst_dir)
        except BackendError as exc:
            raise TransferError(exc) from None
    await _respond(send, 204, [
        (b"upload-offset", str(current).encode()), (b"tus-resumable", TUS_VERSION),
    ])  # fmt: skip


async def _write_body(fd: int, receive: Receive, offset: int, size: int) -> int:
    """Write the request body at `offset` as it arrives; keep what came before a disconnect.

    Message bodies are gathered (not copied) and written with one `pwritev` per WRITE_BATCH
    bytes, off the event loop."""
    loop = asyncio.get_running_loop()
    pending: list[bytes] = []
    pending_len = 0

    async def flush() -> int:
        nonlocal pending, pending_len
        written = await loop.run_in_executor(None, _pwritev_all, fd, pending, offset)
        pending, pending_len = [], 0
        return written

    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if pending:
                offset += await flush()
            raise TransferError(InvalidAPIParameters("The client went away."), status=400)
        body = message.get("body", b"")
        if offset + pending_len + len(body) > size:
            raise TransferError(
                InvalidAPIParameters("The body passes the size declared at request-upload."),
                status=413,
            )
        if body:
            pending.append(body)
            pending_len += len(body)
        more = message.get("more_body", False)
        if pending_len >= WRITE_BATCH or len(pending) >= MAX_IOV or (not more and pending):
            offset += await flush()
        if not more:
            return offset


def _pwritev_all(fd: int, buffers: list[bytes], offset: int) -> int:
    """Write every buffer at `offset` (retrying short writes); the number of bytes written."""
    total = sum(len(b) for b in buffers)
    done = os.pwritev(fd, buffers, offset)
    if done < total:  # a short write: finish the rest from where it stopped
        rest = memoryview(b"".join(buffers))
        while done < total:
            done += os.pwrite(fd, rest[done:], offset + done)
    return total


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """`bytes=a-b`, `bytes=a-` or `bytes=-n` as an inclusive (start, end); None if unusable."""
    if not value.startswith("bytes=") or "," in value:
        return None
    first, _, last = value[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(size - n, 0), size - 1) if n > 0 else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start > end or start >= size:
        return None
    return start, min(end, size - 1)


async def _download(scope: Scope, send: Send, *, head_only: bool) -> None:
    token = _token(scope, "download")
    target = await _load(token, writable=False)
    try:
        with open_parent(target.root, token.relpath) as (parent_fd, name):
            fd = open_file_at(parent_fd, name, os.O_RDONLY)
    except BackendError as exc:
        raise TransferError(exc) from None
    except OSError:
        raise TransferError(VFolderFileNotFound("The file is gone.")) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise TransferError(VFolderFileNotFound("Only regular files can be downloaded."))
        size = st.st_size
        last_modified = email.utils.formatdate(st.st_mtime, usegmt=True)
        headers = _headers(scope)
        start, end, status = 0, size - 1, 200
        range_value = headers.get(b"range", b"").decode("latin-1")
        if_range = headers.get(b"if-range", b"").decode("latin-1")
        if range_value and (not if_range or if_range == last_modified):
            parsed = _parse_range(range_value, size)
            if parsed is None:
                await _respond(send, 416, [
                    (b"content-range", f"bytes */{size}".encode()), (b"content-length", b"0"),
                ])  # fmt: skip
                return
            start, end = parsed
            status = 206
        length = max(end - start + 1, 0)
        name = PurePosixPath(token.relpath).name.replace('"', "")
        out = [
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(length).encode()),
            (b"last-modified", last_modified.encode()),
            (b"accept-ranges", b"bytes"),
            (b"content-disposition", f'attachment; filename="{name}"'.encode()),
        ]
        if status == 206:
            out.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        if head_only:
            await send({"type": "http.response.body", "body": b""})
            return
        await _send_file(fd, send, start, length)
    finally:
        os.close(fd)


async def _send_file(fd: int, send: Send, start: int, length: int) -> None:
    loop = asyncio.get_running_loop()
    pos, left = start, length
    while left > 0:
        chunk = await loop.run_in_executor(None, os.pread, fd, min(CHUNK, left), pos)
        if not chunk:
            break
        pos += len(chunk)
        left -= len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
    if left > 0 or length == 0:
        await send({"type": "http.response.body", "body": b""})
