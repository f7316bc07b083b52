"""`/stream/session/{ref}/execute`: what `backend.ai run` uses (COMPAT.md 4.4).

The first TEXT frame is `{"code", "mode", "options"}`; every later TEXT frame is a raw input
line answering `waiting-input`. The server sends one JSON frame per runner poll and closes with
1000 after `finished`. If the client goes away the run is interrupted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from pydantic import ValidationError

from backendai_site.common.errors import BackendError, InvalidAPIParameters
from backendai_site.common.validation import json_loads_bounded
from sessions_app.services.execute import ExecuteRequest, session_execute_stream

from .base import SessionStreamConsumer

log = logging.getLogger(__name__)


class ExecuteConsumer(SessionStreamConsumer):
    stream_kind = "execute"

    async def opened(self) -> None:
        self._inputs: asyncio.Queue[str] = asyncio.Queue()
        self._run: asyncio.Task[None] | None = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            return  # binary frames are reserved
        if self._run is not None:
            self._inputs.put_nowait(text_data)
            return
        try:
            request = ExecuteRequest.model_validate(json_loads_bounded(text_data))
        except (ValueError, ValidationError, InvalidAPIParameters):
            await self.fail(InvalidAPIParameters("The first frame must be {code, mode, options}."))
            return
        self._run = self.spawn(self._execute(request))

    async def _execute(self, request: ExecuteRequest) -> None:
        try:
            exit_code = await session_execute_stream(
                endpoint=self.endpoint,
                request=request,
                send=self._send_result,
                next_input=self._inputs.get,
            )
        except BackendError as error:
            await self.fail(error)
            return
        log.info("execution finished", extra=self.log_extra(exit_code=exit_code))
        await self.close(code=1000)

    async def _send_result(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload))

    def error_frame(self, error: BackendError) -> dict[str, Any]:
        # The client skips unknown statuses; `console` stays a list.
        return {"status": "error", "console": [], "exitCode": None, **error.as_problem()}
