"""Host-side clients for the kernel runner protocol (docs/design/0001-kernel-runner.md).

`RunnerClient` is the async client the web role and tests use; `wait_runner_ready` is the small
blocking readiness probe the agent runs right after creating a container. Not part of the
`bai_runner` package that is mounted into containers (this module needs pydantic).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import BaseModel, Field

from agents_app.runtime.errors import (
    RunnerAuthFailed,
    RunnerExited,
    RunnerRequestError,
    RunnerUnavailable,
)

log = logging.getLogger(__name__)

MAX_LINE = 16 * 1024 * 1024
TERMINAL_STATUSES = frozenset({"finished"})
# A runner is usually ready well within a second: the first liveness check (a Docker inspect,
# not free on a busy engine) waits until then, later ones every half second.
ALIVE_FIRST_CHECK = 1.0
ALIVE_CHECK_INTERVAL = 0.5
STREAM_QUEUE = 4  # messages of one streamed reply held before the connection stops reading


class ExecResult(BaseModel):
    """One poll of a run: Backend.AI's execute result (`status`, `console`, `exitCode`...)."""

    run_id: str
    status: str
    console: list[tuple[str, str]] = Field(default_factory=list)
    exit_code: int | None = None
    options: dict[str, Any] | None = None

    @property
    def stdout(self) -> str:
        return "".join(text for kind, text in self.console if kind == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(text for kind, text in self.console if kind == "stderr")

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


# ---------------------------------------------------------------------------------------------
# Sync readiness probe


def _sync_handshake(host: str, port: int, secret: str, timeout: float) -> float:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        sock.sendall(_encode({"type": "auth", "secret": secret}))
        line = reader.readline(MAX_LINE)
        if not line:
            raise ConnectionError("runner closed the connection")
        reply = json.loads(line)
        if reply.get("type") != "auth-ok":
            raise RunnerAuthFailed(f"runner refused authentication: {reply.get('code')}")
        sock.sendall(_encode({"type": "ping", "id": 1}))
        pong = json.loads(reader.readline(MAX_LINE) or b"{}")
        if pong.get("type") != "pong":
            raise ConnectionError(f"unexpected reply to ping: {pong}")
        return float(pong.get("uptime", 0.0))


def wait_runner_ready(
    host: str,
    port: int,
    secret: str,
    *,
    timeout: float = 30.0,
    interval: float = 0.01,
    alive: Callable[[], bool] | None = None,
) -> float:
    """Block until the runner at host:port authenticates and answers ping; returns its uptime.

    Raises RunnerAuthFailed at once on a refused secret, RunnerUnavailable after `timeout`, or
    RunnerExited as soon as `alive()` (asked after ALIVE_FIRST_CHECK, then every
    ALIVE_CHECK_INTERVAL) says the runner is gone.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    next_check = time.monotonic() + ALIVE_FIRST_CHECK
    while True:
        if alive is not None and time.monotonic() >= next_check:
            next_check = time.monotonic() + ALIVE_CHECK_INTERVAL
            if not alive():
                raise RunnerExited(f"runner at {host}:{port} exited before it was ready")
        try:
            return _sync_handshake(host, port, secret, timeout=min(5.0, max(timeout, 0.5)))
        except RunnerAuthFailed:
            raise
        except (OSError, ValueError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise RunnerUnavailable(f"runner at {host}:{port} not ready: {last_error}")
        time.sleep(interval)


def runner_bind(
    host: str, port: int, secret: str, *, environ: dict[str, str], timeout: float = 10.0
) -> None:
    """Give a pooled kernel's runner the environment of the session that claimed it."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        sock.sendall(_encode({"type": "auth", "secret": secret}))
        reply = json.loads(reader.readline(MAX_LINE) or b"{}")
        if reply.get("type") != "auth-ok":
            raise RunnerAuthFailed(f"runner refused authentication: {reply.get('code')}")
        sock.sendall(_encode({"type": "bind", "id": 1, "environ": environ}))
        bound = json.loads(reader.readline(MAX_LINE) or b"{}")
        if bound.get("type") != "bound":
            raise ConnectionError(f"runner refused the bind: {bound}")


# ---------------------------------------------------------------------------------------------
# Tunnels (a raw byte stream to one service, through the runner's authenticated port)


async def _read_line(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> dict[str, Any]:
    """One handshake line, read a byte at a time so no tunnelled byte is taken with it."""
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = await loop.sock_recv(sock, 1)
        if not byte:
            raise RunnerUnavailable("runner closed the connection during the tunnel handshake")
        line += byte
        if len(line) > 65536:
            raise RunnerUnavailable("runner sent an overlong handshake line")
    try:
        reply = json.loads(line)
    except ValueError as exc:
        raise RunnerUnavailable(f"runner sent a malformed handshake line: {exc}") from exc
    return reply if isinstance(reply, dict) else {}


async def open_tunnel(
    host: str, port: int, secret: str, service: str, *, timeout: float = 10.0
) -> socket.socket:
    """A connected non-blocking socket whose bytes go to `service` inside the kernel (for the
    built-in terminal: a shell on a PTY). Raises RunnerUnavailable, RunnerAuthFailed, or
    RunnerRequestError when the runner refuses the service."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            try:
                await loop.sock_connect(sock, (host, port))
            except OSError as exc:
                raise RunnerUnavailable(f"cannot reach runner at {host}:{port}: {exc}") from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = {"type": "tunnel", "id": 1, "service": service}
            await loop.sock_sendall(
                sock, _encode({"type": "auth", "secret": secret}) + _encode(request)
            )
            auth = await _read_line(loop, sock)
            if auth.get("type") != "auth-ok":
                raise RunnerAuthFailed(f"runner refused authentication: {auth.get('code')}")
            reply = await _read_line(loop, sock)
            if reply.get("type") == "error":
                raise RunnerRequestError(str(reply.get("code")), str(reply.get("message", "")))
            if reply.get("type") != "tunnel-opened":
                raise RunnerUnavailable(f"unexpected reply to tunnel: {reply.get('type')}")
    except TimeoutError as exc:
        sock.close()
        raise RunnerUnavailable(f"runner at {host}:{port}: tunnel handshake timed out") from exc
    except BaseException:
        sock.close()
        raise
    return sock


# ---------------------------------------------------------------------------------------------
# Async client


class PtyHandle:
    """A PTY opened on the runner; output arrives as bytes, `None` marks the end."""

    def __init__(self, client: RunnerClient, pty_id: str) -> None:
        self.client = client
        self.pty_id = pty_id
        self.output: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.exit_code: int | None = None

    async def write(self, data: bytes) -> None:
        await self.client.request(
            "pty-write", pty_id=self.pty_id, data=base64.b64encode(data).decode()
        )

    async def resize(self, rows: int, cols: int) -> None:
        await self.client.request("pty-resize", pty_id=self.pty_id, rows=rows, cols=cols)

    async def read(self, timeout: float | None = None) -> bytes | None:
        """Next output chunk, `None` after the shell exited; TimeoutError after `timeout`."""
        return await asyncio.wait_for(self.output.get(), timeout)

    async def read_until(self, needle: bytes, timeout: float = 10.0) -> bytes:
        """Collect output until `needle` appears (or the PTY ends); TimeoutError otherwise."""
        buffer = b""
        deadline = asyncio.get_running_loop().time() + timeout
        while needle not in buffer:
            remaining = deadline - asyncio.get_running_loop().time()
            chunk = await self.read(timeout=max(remaining, 0.001))
            if chunk is None:
                break
            buffer += chunk
        return buffer

    async def close(self) -> None:
        await self.client.request("pty-close", pty_id=self.pty_id)


class _ReplyStream:
    """The messages of one streamed reply (same `id`), bounded: while the consumer lags, the
    read loop waits, so the runner's socket fills and the runner slows down."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=STREAM_QUEUE)
        self.abandoned = False

    async def put(self, message: dict[str, Any] | None) -> None:
        while not self.abandoned:
            try:
                await asyncio.wait_for(self.queue.put(message), 1.0)
                return
            except TimeoutError:
                continue

    def abandon(self) -> None:
        self.abandoned = True
        while not self.queue.empty():
            self.queue.get_nowait()

    def end(self) -> None:
        """The connection ended: wake the consumer (it sees None)."""
        while self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class RunnerClient:
    """One authenticated connection to a kernel runner; requests may run concurrently."""

    def __init__(self, host: str, port: int, secret: str, *, connect_timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self._secret = secret
        self.connect_timeout = connect_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._streams: dict[int, _ReplyStream] = {}
        self._ptys: dict[str, PtyHandle] = {}
        # PTY events that arrive before the pty-opened reply (the shell may print at once).
        self._early_pty: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._write_lock = asyncio.Lock()
        self._closed_error: Exception | None = None

    @property
    def connected(self) -> bool:
        """Authenticated, and the connection's read loop still runs (not closed or broken)."""
        task = self._read_task
        return self._writer is not None and task is not None and not task.done()

    async def __aenter__(self) -> RunnerClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=MAX_LINE),
                self.connect_timeout,
            )
            self._reader, self._writer = reader, writer
            writer.write(_encode({"type": "auth", "secret": self._secret}))
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            await self.close()
            where = f"{self.host}:{self.port}"
            raise RunnerUnavailable(f"cannot reach runner at {where}: {exc}") from exc
        reply = json.loads(line) if line else {}
        if reply.get("type") != "auth-ok":
            await self.close()
            if not line:
                raise RunnerUnavailable("runner closed the connection during authentication")
            raise RunnerAuthFailed(f"runner refused authentication: {reply.get('code')}")
        self._read_task = asyncio.create_task(self._read_loop())

    async def close(self) -> None:
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._read_task
            self._read_task = None
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
            self._writer = None
        self._fail_pending(RunnerUnavailable("connection closed"))

    def _fail_pending(self, error: Exception) -> None:
        self._closed_error = error
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        for stream in self._streams.values():
            stream.end()
        for handle in self._ptys.values():
            handle.output.put_nowait(None)
        self._ptys.clear()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                message = json.loads(line)
                stream = self._streams.get(message.get("id")) if "id" in message else None
                if stream is not None:
                    await stream.put(message)
                else:
                    self._route(message)
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            log.warning("runner connection broken", extra={"port": self.port, "error": str(exc)})
        finally:
            self._fail_pending(RunnerUnavailable("runner closed the connection"))

    def _route(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        if request_id is not None:
            future = self._pending.pop(request_id, None)
            if future is not None and not future.done():
                future.set_result(message)
            return
        match message.get("type"):
            case "pty-output" | "pty-exit":
                pty_id = str(message.get("pty_id", ""))
                handle = self._ptys.get(pty_id)
                if handle is None:
                    self._early_pty.setdefault(pty_id, []).append(message)
                else:
                    self._feed_pty(handle, message)
            case "error":
                log.warning("runner error", extra={"runner_error": message.get("code")})

    def _feed_pty(self, handle: PtyHandle, message: dict[str, Any]) -> None:
        if message["type"] == "pty-output":
            handle.output.put_nowait(base64.b64decode(message["data"]))
        else:
            self._ptys.pop(handle.pty_id, None)
            handle.exit_code = message.get("exit_code")
            handle.output.put_nowait(None)

    async def request(self, msg_type: str, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its reply; raises RunnerRequestError on an error reply."""
        if self._writer is None or self._read_task is None or self._read_task.done():
            raise self._closed_error or RunnerUnavailable("not connected")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        async with self._write_lock:
            self._writer.write(_encode({"type": msg_type, "id": request_id, **fields}))
            await self._writer.drain()
        reply = await future
        if reply.get("type") == "error":
            raise RunnerRequestError(str(reply.get("code")), str(reply.get("message", "")))
        return reply

    async def request_stream(self, msg_type: str, **fields: Any) -> AsyncIterator[dict[str, Any]]:
        """Send one request and yield every message answering it (memory bounded by
        STREAM_QUEUE), ending with the final reply, whose type is not `*-chunk`."""
        if self._writer is None or self._read_task is None or self._read_task.done():
            raise self._closed_error or RunnerUnavailable("not connected")
        request_id = next(self._ids)
        stream = self._streams[request_id] = _ReplyStream()
        try:
            async with self._write_lock:
                self._writer.write(_encode({"type": msg_type, "id": request_id, **fields}))
                await self._writer.drain()
            while True:
                message = await stream.queue.get()
                if message is None:
                    raise self._closed_error or RunnerUnavailable("runner closed the connection")
                if message.get("type") == "error":
                    raise RunnerRequestError(
                        str(message.get("code")), str(message.get("message", ""))
                    )
                yield message
                if not str(message.get("type", "")).endswith("-chunk"):
                    return
        finally:
            self._streams.pop(request_id, None)
            stream.abandon()

    # -- operations ---------------------------------------------------------------------------

    async def ping(self) -> float:
        return float((await self.request("ping"))["uptime"])

    async def execute(
        self, code: str, *, run_id: str | None = None, wait: float = 1.0
    ) -> ExecResult:
        """Start a query-mode run; the result may be `continued` (then call `continue_run`)."""
        return _result(
            await self.request("execute", mode="query", code=code, run_id=run_id, wait=wait)
        )

    async def batch(
        self,
        *,
        clean: str = "*",
        build: str = "*",
        exec_: str = "*",
        run_id: str | None = None,
        wait: float = 1.0,
    ) -> ExecResult:
        options = {"clean": clean, "build": build, "exec": exec_}
        reply = await self.request(
            "execute", mode="batch", options=options, run_id=run_id, wait=wait
        )
        return _result(reply)

    async def complete(self, code: str, options: dict[str, Any] | None = None) -> list[str]:
        """Completion candidates for the end of `code` (or of `options["line"]`)."""
        reply = await self.request("complete", code=code, options=options or {})
        return [str(item) for item in reply.get("completions") or []]

    async def continue_run(self, run_id: str, *, wait: float = 1.0) -> ExecResult:
        return _result(await self.request("continue", run_id=run_id, wait=wait))

    async def send_input(self, run_id: str, text: str, *, wait: float = 1.0) -> ExecResult:
        return _result(await self.request("input", run_id=run_id, text=text, wait=wait))

    async def interrupt(self, run_id: str | None = None) -> str | None:
        reply = await self.request("interrupt", run_id=run_id)
        return reply.get("run_id")

    async def follow(self, first: ExecResult, *, wait: float = 1.0) -> AsyncIterator[ExecResult]:
        """Yield `first` and then each poll until the run finishes or waits for input."""
        result = first
        yield result
        while result.status not in ("finished", "waiting-input"):
            result = await self.continue_run(result.run_id, wait=wait)
            yield result

    async def run_to_end(self, first: ExecResult, *, timeout: float = 60.0) -> ExecResult:
        """Poll until finished or waiting-input; returns one result with all console merged."""
        console: list[tuple[str, str]] = []
        last = first
        async with asyncio.timeout(timeout):
            async for last in self.follow(first):
                console.extend(last.console)
        return last.model_copy(update={"console": console})

    async def pty_open(
        self, *, rows: int = 24, cols: int = 80, command: list[str] | None = None
    ) -> PtyHandle:
        reply = await self.request("pty-open", rows=rows, cols=cols, command=command)
        handle = PtyHandle(self, str(reply["pty_id"]))
        self._ptys[handle.pty_id] = handle
        for message in self._early_pty.pop(handle.pty_id, []):
            self._feed_pty(handle, message)
        return handle

    async def start_service(self, name: str, *, timeout: float = 10.0) -> dict[str, Any]:
        return await self.request("service-start", name=name, timeout=timeout)

    async def list_services(self) -> list[dict[str, Any]]:
        return list((await self.request("service-list"))["services"])

    # -- files (paths relative to the work directory, confined to it by the runner) -----------

    async def file_write(self, path: str, data: bytes, *, append: bool = False) -> int:
        reply = await self.request(
            "file-write", path=path, data=base64.b64encode(data).decode(), append=append
        )
        return int(reply["size"])

    async def file_list(self, path: str) -> dict[str, Any]:
        """`{"abspath": str, "files": [{filename, size, mtime, mode}]}`."""
        return await self.request("file-list", path=path)

    async def file_stat(self, path: str) -> dict[str, Any]:
        """`{"is_dir": bool, "size": int}`; RunnerRequestError `not-found` when missing."""
        return await self.request("file-stat", path=path)

    async def file_archive(self, path: str) -> AsyncIterator[bytes]:
        """A tar archive of `path` (file or folder), streamed in chunks of at most 1 MiB."""
        async for message in self.request_stream("file-archive", path=path):
            if message.get("type") == "archive-chunk":
                yield base64.b64decode(message["data"])


def _result(reply: dict[str, Any]) -> ExecResult:
    return ExecResult(
        run_id=reply["run_id"],
        status=reply["status"],
        console=[(kind, text) for kind, text in reply.get("console") or []],
        exit_code=reply.get("exit_code"),
        options=reply.get("options"),
    )
