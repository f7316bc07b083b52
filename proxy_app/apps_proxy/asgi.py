"""The app proxy as pure ASGI: routes `<label>.<apps domain>` hosts (or port-mode listeners) to the
session's published app port, streaming HTTP bodies and relaying websockets.

Everything else goes to the wrapped application untouched. See docs/design/0004-app-proxy.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from asgiref.sync import sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from backendai_site.config import get_config
from sessions_app.services.idle import session_mark_access

from .services import (
    COOKIE_NAME,
    LABEL_RE,
    TOKEN_PARAM,
    AppTarget,
    TargetCache,
    label_for_port,
    token_exchange,
)
from .upstream import StaleConnection, UpstreamConnection, UpstreamError, UpstreamPool

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
WS_SKIP = HOP_BY_HOP | {
    b"host",
    b"sec-websocket-key",
    b"sec-websocket-version",
    b"sec-websocket-extensions",
    b"sec-websocket-protocol",
    b"sec-websocket-accept",
    b"content-length",
}
MARK_INTERVAL = 1.0


class _ClientGone(Exception):
    pass


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _strip_our_cookie(value: bytes) -> bytes | None:
    kept = [
        part
        for part in value.split(b";")
        if part.strip() and not part.strip().startswith(COOKIE_NAME.encode() + b"=")
    ]
    return b";".join(kept).strip() or None


_cookie_memo: dict[bytes, str | None] = {}


def _our_cookie(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    try:
        return _cookie_memo[raw]  # a browser sends the same header on every request
    except KeyError:
        pass
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except CookieError:
        return None
    morsel = jar.get(COOKIE_NAME)
    value = morsel.value if morsel is not None else None
    if len(_cookie_memo) > 4096:
        _cookie_memo.clear()
    _cookie_memo[raw] = value
    return value


async def _plain(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AppsProxyRouter:
    """Wraps the web role's ASGI app; app hosts and port-mode ports never reach Django."""

    def __init__(
        self,
        inner: ASGIApp,
        *,
        domain: str | None = None,
        port_range: tuple[int, int] | None = None,
    ) -> None:
        config = get_config()
        self.inner = inner
        self.suffix = "." + (domain or config.apps.domain).lower().strip(".")
        self.port_range = port_range if port_range is not None else config.apps.port_range
        self.targets = TargetCache()
        self.pool = UpstreamPool()
        self._marks: dict[str, float] = {}

    # --- routing -------------------------------------------------------------------------------

    def _host_label(self, scope: Scope) -> str | None:
        raw = _header(scope, b"host")
        if raw is None:
            return None
        host = raw.decode("latin-1").lower()
        if host.startswith("["):
            return None
        host = host.rsplit(":", 1)[0] if ":" in host else host
        if not host.endswith(self.suffix):
            return None
        return host[: -len(self.suffix)]

    async def _label(self, scope: Scope) -> str | None:
        """The app label this request addresses, `""` for an unknown app host, None if not ours."""
        label = self._host_label(scope)
        if label is not None:
            return label if LABEL_RE.match(label) else ""
        server = scope.get("server")
        if self.port_range is not None and server and server[1] is not None:
            port = int(server[1])
            if self.port_range[0] <= port <= self.port_range[1]:
                found = await sync_to_async(label_for_port, thread_sensitive=False)(port)
                return found or ""
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.inner(scope, receive, send)
            return
        label = await self._label(scope)
        if label is None:
            await self.inner(scope, receive, send)
            return
        if scope["type"] == "http":
            await self._http(scope, receive, send, label)
        else:
            await self._websocket(scope, receive, send, label)

    # --- authorisation -------------------------------------------------------------------------

    async def _authorised(self, scope: Scope, label: str) -> AppTarget | None:
        cookie = _our_cookie(scope)
        if not label or not cookie:
            return None
        target = await self.targets.resolve(cookie)
        if target is None or target.label != label:
            return None
        return target

    async def _exchange(self, scope: Scope, send: Send, label: str) -> bool:
        """Handle `?bai_token=`: set the cookie and redirect; True when the request was answered."""
        query = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True)
        token = next((value for key, value in pairs if key == TOKEN_PARAM), None)
        if token is None:
            return False
        exchanged = None
        if label:
            exchanged = await sync_to_async(token_exchange, thread_sensitive=False)(token, label)
        if exchanged is None:
            log.info("app token refused", extra={"label": label})
            await _plain(send, 403, "This link is invalid, expired or was already used.\n", [])
            return True
        cookie, target = exchanged
        rest = urlencode([(key, value) for key, value in pairs if key != TOKEN_PARAM])
        location = scope.get("path", "/") + (f"?{rest}" if rest else "")
        secure = "; Secure" if scope.get("scheme") in ("https", "wss") else ""
        set_cookie = (
            f"{COOKIE_NAME}={cookie}; Path=/; HttpOnly; SameSite=Lax; "
            f"Max-Age={get_config().apps.cookie_max_age}{secure}"
        )
        log.info(
            "app token exchanged",
            extra={"session_id": target.session_id, "app": target.app, "user_id": target.user_id},
        )
        await _plain(
            send,
            302,
            "Redirecting.\n",
            [(b"location", location.encode("latin-1")), (b"set-cookie", set_cookie.encode())],
        )
        return True

    def _mark(self, session_id: str) -> None:
        now = time.monotonic()
        if now - self._marks.get(session_id, 0.0) < MARK_INTERVAL:
            return
        self._marks[session_id] = now
        if len(self._marks) > 10_000:
            self._marks.clear()
        asyncio.get_running_loop().run_in_executor(None, session_mark_access, session_id)

    # --- HTTP ----------------------------------------------------------------------------------

    def _request_head(self, scope: Scope, target: AppTarget, chunked: bool) -> bytes:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        parts = [scope["method"].encode("latin-1"), b" ", raw_path]
        if query:
            parts += [b"?", query]
        parts.append(b" HTTP/1.1\r\n")
        has_host = False
        for key, value in self._forward_headers(scope):
            if key == b"host":
                has_host = True
            parts += [key, b": ", value, b"\r\n"]
        if not has_host:
            parts.append(f"host: {target.host}:{target.port}\r\n".encode())
        if chunked:
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    def _forward_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        host = None
        for key, value in scope["headers"]:
            if key in HOP_BY_HOP:
                continue
            if key == b"cookie":
                stripped = _strip_our_cookie(value)
                if stripped is None:
                    continue
                value = stripped
            elif key == b"host":
                host = value
            headers.append((key, value))
        client = scope.get("client")
        if client:
            headers.append((b"x-forwarded-for", str(client[0]).encode()))
        headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
        if host:
            headers.append((b"x-forwarded-host", host))
        return headers

    async def _http(self, scope: Scope, receive: Receive, send: Send, label: str) -> None:
        if await self._exchange(scope, send, label):
            return
        target = await self._authorised(scope, label)
        if target is None:
            await _plain(send, 403, "Forbidden.\n", [])
            return
        self._mark(target.session_id)
        length = _header(scope, b"content-length")
        chunked = length is None and _header(scope, b"transfer-encoding") is not None
        has_body = chunked or length not in (None, b"0")
        head = self._request_head(scope, target, chunked)
        no_body = scope["method"] == "HEAD"
        try:
            conn = await self._send_request(target, head, no_body, receive if has_body else None,
                                            chunked)  # fmt: skip
        except _ClientGone:
            return
        except UpstreamError as exc:
            log.info(
                "app upstream unavailable",
                extra={"session_id": target.session_id, "app": target.app, "error": str(exc)},
            )
            await _plain(send, 502, "The app does not answer.\n", [])
            return
        await self._relay_response(conn, receive, send, target)

    async def _send_request(
        self, target: AppTarget, head: bytes, no_body: bool, receive: Receive | None, chunked: bool
    ) -> UpstreamConnection:
        """Send the request (streaming its body); the connection once the response head is in.

        A reused keep-alive connection the app closed meanwhile is retried once on a fresh one
        when no body has been sent (nothing is replayed)."""
        for attempt in (0, 1):
            conn = await self.pool.acquire(target.host, target.port)
            response_head = conn.start(head, no_body)
            try:
                if receive is not None:
                    await _stream_request_body(conn, receive, chunked)
                await response_head
                return conn
            except StaleConnection:
                conn.close()
                if receive is not None or attempt:
                    raise
            except BaseException:
                conn.close()
                if not response_head.done():
                    response_head.cancel()
                else:
                    response_head.exception()  # retrieved: the caller answers for it
                raise
        raise AssertionError("unreachable")

    async def _relay_response(
        self, conn: UpstreamConnection, receive: Receive, send: Send, target: AppTarget
    ) -> None:
        watcher: asyncio.Task[None] | None = None
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": conn.status,
                    "headers": [
                        (key, value) for key, value in conn.headers
                        if key.lower() not in HOP_BY_HOP
                    ],
                }
            )  # fmt: skip
            while True:
                data = await conn.read()
                if data is None:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    break
                last = conn.drained
                await send({"type": "http.response.body", "body": data, "more_body": not last})
                if last:
                    break
                if watcher is None:
                    # A long body: stop pulling it from the app when the client goes away
                    # (uvicorn's send() is silent after a disconnect).
                    watcher = asyncio.ensure_future(_watch_disconnect(receive, conn))
        except (UpstreamError, OSError) as exc:
            log.info(
                "app response cut",
                extra={"session_id": target.session_id, "app": target.app, "error": str(exc)},
            )
        finally:
            if watcher is not None:
                watcher.cancel()
            conn.release()

    # --- websockets ----------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, label: str) -> None:
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        target = await self._authorised(scope, label)
        if target is None:
            await send({"type": "websocket.close", "code": 4403})
            return
        self._mark(target.session_id)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        uri = f"ws://{target.host}:{target.port}" + raw_path.decode("latin-1")
        if query:
            uri += "?" + query.decode("latin-1")
        headers = [
            (key.decode("latin-1"), value.decode("latin-1"))
            for key, value in self._forward_headers(scope)
            if key not in WS_SKIP
        ]
        subprotocols = list(scope.get("subprotocols") or [])
        try:
            upstream = await connect(
                uri,
                additional_headers=headers,
                subprotocols=subprotocols or None,
                compression=None,
                max_size=None,
                open_timeout=10,
                ping_interval=None,
                user_agent_header=None,
            )
        except (OSError, InvalidHandshake, InvalidStatus, TimeoutError) as exc:
            log.info(
                "app websocket upstream refused",
                extra={"session_id": target.session_id, "app": target.app, "error": str(exc)},
            )
            await send({"type": "websocket.close", "code": 1011})
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        await self._relay(upstream, receive, send, target.session_id)

    async def _relay(
        self, upstream: ClientConnection, receive: Receive, send: Send, session_id: str
    ) -> None:
        async def client_to_upstream() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    await upstream.close(code=int(message.get("code") or 1000))
                    return
                self._mark(session_id)
                if message.get("bytes") is not None:
                    await upstream.send(message["bytes"])
                elif message.get("text") is not None:
                    await upstream.send(message["text"])

        async def upstream_to_client() -> None:
            try:
                async for data in upstream:
                    self._mark(session_id)
                    if isinstance(data, bytes):
                        await send({"type": "websocket.send", "bytes": data})
                    else:
                        await send({"type": "websocket.send", "text": data})
            except ConnectionClosed:
                pass
            code = upstream.close_code or 1000
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": code if code != 1005 else 1000})

        tasks = [
            asyncio.ensure_future(client_to_upstream()),
            asyncio.ensure_future(upstream_to_client()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await upstream.close()


async def _stream_request_body(conn: UpstreamConnection, receive: Receive, chunked: bool) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            if chunked:
                await conn.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            else:
                await conn.write(chunk)
        if not message.get("more_body", False):
            if chunked:
                await conn.write(b"0\r\n\r\n")
            return


async def _watch_disconnect(receive: Receive, conn: UpstreamConnection) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            conn.abort(UpstreamError("the client went away"))
            return


def apps_proxy_wrap(application: ASGIApp) -> ASGIApp:
    """What `backendai_site/asgi.py` calls on its last line."""
    return AppsProxyRouter(application)
