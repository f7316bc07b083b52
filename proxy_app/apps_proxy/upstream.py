"""A lean HTTP/1.1 client for the app proxy: keep-alive connections per upstream, only the
response head is parsed (httptools), bodies are relayed as the transport hands them over.

`Content-Length` bodies bypass the parser entirely (the bytes `data_received` gets are passed on
as they are, no copy); chunked and close-delimited bodies are de-framed by httptools. Reading
pauses while more than `HIGH_WATER` bytes wait for the client (backpressure).
"""

from __future__ import annotations

import asyncio
import collections
from typing import cast

import httptools

CONNECT_TIMEOUT = 10.0
HIGH_WATER = 1024 * 1024
MAX_IDLE_PER_UPSTREAM = 64

Headers = list[tuple[bytes, bytes]]


class UpstreamError(Exception):
    """The upstream could not be reached or broke the exchange."""


class StaleConnection(UpstreamError):
    """A reused keep-alive connection closed before any byte of the response head."""


class UpstreamConnection(asyncio.Protocol):
    """One TCP connection to an upstream; one exchange at a time."""

    def __init__(self, pool: UpstreamPool, key: tuple[str, int]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._loop = asyncio.get_running_loop()
        self._writable = asyncio.Event()
        self._writable.set()
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: Headers = []
        self._head: asyncio.Future[None] | None = None
        self._got_bytes = False
        self._no_body = False
        self._until_close = False
        self._keep_alive = False
        self._remaining = -1  # Content-Length countdown once the head is in; -1: use the parser
        self.complete = False
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._paused = False

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        if self._until_close and not self.complete:
            self.complete = True  # a close-delimited body ends here
        if not self.complete:
            if self._head is not None and not self._head.done():
                error: Exception = UpstreamError(f"the upstream closed the connection: {exc}")
                if self.reused and not self._got_bytes:
                    error = StaleConnection("a kept-alive connection was closed")
                self._head.set_exception(error)
            elif self._error is None:
                self._error = UpstreamError(f"the upstream closed the connection: {exc}")
        self._wake()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        if self._head is None or self.complete:
            # Bytes nobody asked for: the connection cannot be trusted any more.
            self._abort()
            return
        remaining = self._remaining
        if remaining >= 0:
            size = len(data)
            if size >= remaining:
                if size > remaining:  # more than the announced body: never reuse
                    data = data[:remaining]
                    self._abort()
                if data:
                    self._push(data)
                self._remaining = 0
                self._finish()
            else:
                self._remaining = remaining - size
                self._push(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._abort()
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"malformed response: {exc}"))

    # --- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.headers = []  # an interim response: wait for the final one
            return
        self.status = status
        self._keep_alive = self.parser.should_keep_alive()  # llhttp forgets it after the body
        head = self._head
        if head is not None and not head.done():
            head.set_result(None)
        if self._no_body or status in (204, 304):
            self._finish()
            return
        length = _content_length(self.headers)
        if _chunked(self.headers):
            return
        if length is None:
            self._until_close = True
        else:
            self._remaining = length
            if length == 0:
                self._finish()
            # The parser is left behind: what follows in this buffer is delivered by on_body.

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        remaining = self._remaining
        if remaining >= 0:
            # Body bytes that came in the same buffer as the head.
            if len(body) > remaining:
                body = body[:remaining]
            self._remaining = remaining - len(body)
            if body:
                self._push(body)
            if self._remaining == 0:
                self._finish()
            return
        self._push(body)

    def on_message_complete(self) -> None:
        if self.status == 0:
            return  # end of an interim (1xx) response
        if not self.complete:
            self._finish()

    # --- the exchange --------------------------------------------------------------------------

    def _push(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def _finish(self) -> None:
        self.complete = True
        self._wake()

    def _fail(self, error: Exception) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        elif self._error is None:
            self._error = error
        self._abort()

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def write(self, data: bytes) -> None:
        """Part of a streamed request body."""
        if self.closed or self.transport is None:
            raise UpstreamError("the upstream closed the connection")
        self.transport.write(data)
        if not self._writable.is_set():
            await self._writable.wait()

    def start(self, head: bytes, no_body: bool = False) -> asyncio.Future[None]:
        """Send a request head whose body follows with `write`; the future is the response head."""
        self._reset()
        self._no_body = no_body
        self._head = self._loop.create_future()
        assert self.transport is not None
        self.transport.write(head)
        return self._head

    async def read(self) -> bytes | None:
        """The next piece of the response body, None at its end."""
        while True:
            if self._chunks:
                data = self._chunks.popleft()
                self._buffered -= len(data)
                if self._paused and self._buffered <= HIGH_WATER // 4 and not self.closed:
                    self._paused = False
                    assert self.transport is not None
                    self.transport.resume_reading()
                return data
            if self.complete:
                return None
            if self._error is not None:
                raise self._error
            if self.closed:
                raise UpstreamError("the upstream closed the connection")
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    @property
    def drained(self) -> bool:
        """The whole response body has been read."""
        return self.complete and not self._chunks

    def abort(self, error: Exception) -> None:
        """Stop the exchange (the client went away): `read` raises `error`."""
        self._fail(error)

    @property
    def reusable(self) -> bool:
        return self.complete and not self.closed and not self._chunks and self._keep_alive

    def release(self) -> None:
        """Back to the pool when the exchange ended cleanly, closed otherwise."""
        if self.reusable:
            self.pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class UpstreamPool:
    """Idle keep-alive connections per (host, port), for one event loop."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[UpstreamConnection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def acquire(self, host: str, port: int) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._idle = {}
            self._loop = loop
        key = (host, port)
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: UpstreamConnection(self, key), host, port),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    def put(self, conn: UpstreamConnection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE_PER_UPSTREAM:
            conn.close()
            return
        idle.append(conn)


def _content_length(headers: Headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _chunked(headers: Headers) -> bool:
    return any(
        name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in headers
    )
