"""`/stream/session/{ref}/tcpproxy?app=NAME`: what `backend.ai app` opens per local TCP
connection (COMPAT.md 4.5). BINARY frames carry the byte stream both ways to the app's published
port on the agent host; closing either side closes the other. The app is started through the
runner first when it is not known to run. The built-in terminal (protocol `pty`) has no published
port: its stream is a tunnel through the kernel's runner, authenticated with the kernel's secret.
`arguments`/`envs` are accepted and not used (the
runner starts apps from the image's definition)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.errors import AppNotFound, KernelRunnerUnavailable
from sessions_app.services.execute import (
    app_host_port,
    app_runner_served,
    app_tunnel_open,
    service_start_forget,
    session_access_touch,
    session_service_start,
)

from .base import SessionStreamConsumer

log = logging.getLogger(__name__)

# One websocket frame per read: big frames keep the per-frame cost (framing, the client's
# parser) small next to the bytes; the socket is read straight into the frame's bytes (no
# StreamReader buffer in between).
READ_CHUNK = 1024 * 1024
CONNECT_TIMEOUT = 10.0


async def _tcp_connect(host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"cannot resolve {host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error


class TcpProxyConsumer(SessionStreamConsumer):
    stream_kind = "tcpproxy"

    async def prepare(self) -> None:
        self._sock: socket.socket | None = None
        app = self.query.get("app")
        if not app:
            raise InvalidAPIParameters("The app query parameter is missing.")
        self.app = app
        if app_runner_served(endpoint=self.endpoint, name=app):
            # The terminal has no published port: a tunnel through the kernel's runner.
            self._sock = await app_tunnel_open(endpoint=self.endpoint, name=app)
            return
        port = app_host_port(endpoint=self.endpoint, name=app)
        await session_service_start(endpoint=self.endpoint, name=app)
        try:
            self._sock = await asyncio.wait_for(
                _tcp_connect(self.endpoint.host, port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            service_start_forget(endpoint=self.endpoint, name=app)
            raise AppNotFound(f"The app {app!r} does not accept connections: {exc}") from exc

    async def opened(self) -> None:
        self.spawn(self._pump())

    async def _pump(self) -> None:
        sent = 0
        loop = asyncio.get_running_loop()
        assert self._sock is not None
        try:
            while True:
                chunk = await loop.sock_recv(self._sock, READ_CHUNK)
                if not chunk:
                    break
                sent += len(chunk)
                await self.send(bytes_data=chunk)
                await session_access_touch(self.endpoint.session_id)
        except OSError as exc:
            log.info("app connection broken", extra=self.log_extra(error=str(exc)))
        log.info("app connection ended", extra=self.log_extra(app=self.app, bytes_sent=sent))
        if sent == 0:
            # docker-proxy accepts even when nothing listens inside: ask again next time.
            service_start_forget(endpoint=self.endpoint, name=self.app)
        await self.close(code=1000)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        data = bytes_data if bytes_data is not None else (text_data or "").encode()
        if not data or self._sock is None:
            return
        try:
            await asyncio.get_running_loop().sock_sendall(self._sock, data)
        except OSError as exc:
            log.info("app connection broken", extra=self.log_extra(error=str(exc)))
            await self.fail(KernelRunnerUnavailable("The app closed the connection."))
            return
        await session_access_touch(self.endpoint.session_id)

    async def cleanup(self) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None:
            self._sock = None
            with contextlib.suppress(OSError):
                sock.close()
