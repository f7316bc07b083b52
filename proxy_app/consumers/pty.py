"""`/stream/session/{ref}/pty`: a terminal on the session's main kernel (COMPAT.md 4.6).

Client TEXT frames: `{"type":"stdin","chars":<base64>}`, `{"type":"resize","rows","cols"}`,
`{"type":"ping"}` (answered `{"type":"pong"}`), `{"type":"restart"}` (a fresh shell). Server
TEXT frames: `{"type":"out","data":<base64>}`; when the shell exits the socket closes with 1000.
Optional query parameters `rows` and `cols` size the first terminal (default 24x80).
"""

from __future__ import annotations

import contextlib
import json
import logging

from pydantic import ValidationError

from agents_app.kernel_runner.client import PtyHandle, RunnerClient
from agents_app.runtime.errors import RunnerRequestError, RunnerUnavailable
from backendai_site.common.errors import InvalidAPIParameters
from proxy_app.schemas import (
    PtyPing,
    PtyResize,
    PtyRestart,
    PtyStdin,
    pty_client_message,
    pty_out,
)
from sessions_app.errors import KernelRunnerUnavailable
from sessions_app.services.execute import (
    runner_connect,
    session_access_touch,
)

from .base import SessionStreamConsumer

log = logging.getLogger(__name__)


def _size(value: str | None, default: int) -> int:
    try:
        return max(1, min(int(value or default), 1000))
    except ValueError:
        return default


class PtyConsumer(SessionStreamConsumer):
    stream_kind = "pty"

    async def prepare(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._runner: RunnerClient = await self._stack.enter_async_context(
            runner_connect(self.endpoint)
        )
        self._pty: PtyHandle | None = None
        query = self.query
        await self._open(_size(query.get("rows"), 24), _size(query.get("cols"), 80))

    async def _open(self, rows: int, cols: int) -> None:
        try:
            self._pty = await self._runner.pty_open(rows=rows, cols=cols)
        except (RunnerRequestError, RunnerUnavailable) as exc:
            raise KernelRunnerUnavailable(f"Cannot open a terminal: {exc}") from exc

    async def opened(self) -> None:
        assert self._pty is not None
        self.spawn(self._pump(self._pty))

    async def _pump(self, handle: PtyHandle) -> None:
        while True:
            chunk = await handle.read()
            if chunk is None:
                break
            await self.send(text_data=json.dumps(pty_out(chunk)))
        if self._pty is handle:  # not replaced by a restart
            await self.close(code=1000)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            return
        try:
            message = pty_client_message.validate_json(text_data)
        except ValidationError:
            await self.fail(InvalidAPIParameters("Unknown or malformed terminal message."))
            return
        await session_access_touch(self.endpoint.session_id)
        try:
            await self._handle(message)
        except (RunnerRequestError, RunnerUnavailable) as exc:
            log.info("terminal request failed", extra=self.log_extra(error=str(exc)))
            await self.fail(KernelRunnerUnavailable(str(exc)))

    async def _handle(self, message: PtyStdin | PtyResize | PtyPing | PtyRestart) -> None:
        match message:
            case PtyStdin() if self._pty is not None:
                await self._pty.write(message.data)
            case PtyResize() if self._pty is not None:
                await self._pty.resize(message.rows, message.cols)
            case PtyPing():
                await self.send(text_data='{"type":"pong"}')
            case PtyRestart():
                old, self._pty = self._pty, None
                if old is not None:
                    with contextlib.suppress(RunnerRequestError, RunnerUnavailable):
                        await old.close()
                await self._open(24, 80)
                assert self._pty is not None
                self.spawn(self._pump(self._pty))

    async def cleanup(self) -> None:
        stack = getattr(self, "_stack", None)
        if stack is not None:
            await stack.aclose()
