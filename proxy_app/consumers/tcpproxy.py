"""`/stream/session/{ref}/tcpproxy?app=NAME`: what `backend.ai app` opens per local TCP
connection (COMPAT.md 4.5). BINARY frames carry the byte stream both ways to the app's published
port on the agent host; closing either side closes the other. The app is started through the
runner first when it is not known to run. `arguments`/`envs` are accepted and not used (the
runner starts apps from the image's definition)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.services.execute import (
    AppNotFound,
    KernelRunnerUnavailable,
    app_host_port,
    service_start_forget,
    session_access_touch,
    session_service_start,
)

from .base import SessionStreamConsumer

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
CONNECT_TIMEOUT = 10.0


class TcpProxyConsumer(SessionStreamConsumer):
    stream_kind = "tcpproxy"

    async def prepare(self) -> None:
        self._writer: asyncio.StreamWriter | None = None
        app = self.query.get("app")
        if not app:
            raise InvalidAPIParameters("The app query parameter is missing.")
        self.app = app
        port = app_host_port(endpoint=self.endpoint, name=app)
        await session_service_start(endpoint=self.endpoint, name=app)
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.endpoint.host, port, limit=READ_CHUNK),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as exc:
            service_start_forget(endpoint=self.endpoint, name=app)
            raise AppNotFound(f"The app {app!r} does not accept connections: {exc}") from exc

    async def opened(self) -> None:
        self.spawn(self._pump())

    async def _pump(self) -> None:
        sent = 0
        try:
            while True:
                chunk = await self._reader.read(READ_CHUNK)
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
        if not data or self._writer is None:
            return
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            log.info("app connection broken", extra=self.log_extra(error=str(exc)))
            await self.fail(KernelRunnerUnavailable("The app closed the connection."))
            return
        await session_access_touch(self.endpoint.session_id)

    async def cleanup(self) -> None:
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
