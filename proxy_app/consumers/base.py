"""The common part of every session stream: authenticate the handshake, resolve the session's
main kernel (only for a caller the one rule lets operate it: `sessions_for(..., OPERATE)`), and
refuse with an HTTP status and a problem+json body (no websocket is opened, no byte of the
session flows) when that fails. Errors after the handshake close the socket with a stable code
(4000 + the HTTP status) after a JSON error frame."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from backendai_site.accounts.models import KeyPair
from backendai_site.common.api.exception_handler import PROBLEM_CONTENT_TYPE, problem_status
from backendai_site.common.errors import BackendError
from proxy_app.auth import keypair_from_scope
from sessions_app.services.execute import KernelEndpoint, kernel_endpoint_resolve

log = logging.getLogger(__name__)

DENIAL_EXTENSION = "websocket.http.response"


def handshake_resolve(
    scope: Mapping[str, Any], *, ref: str, owner_access_key: str | None
) -> tuple[KeyPair, KernelEndpoint]:
    """Authenticate the handshake and resolve the session's main kernel: both run in one
    worker-thread hop (each `sync_to_async` call queues on the one thread-sensitive thread)."""
    keypair = keypair_from_scope(scope)
    endpoint = kernel_endpoint_resolve(
        requester=keypair, ref=ref, owner_access_key=owner_access_key
    )
    return keypair, endpoint


handshake_resolve_async = sync_to_async(handshake_resolve)


def close_code_for(error: BackendError) -> int:
    """4000 + the HTTP status the same error has on the REST API (4403, 4404, 4503...)."""
    return 4000 + problem_status(error)


class SessionStreamConsumer(AsyncWebsocketConsumer):
    """Base of `/stream/session/{ref}/<kind>` consumers."""

    channel_layer_alias = "__none__"  # no channel layer: nothing is broadcast to these sockets
    stream_kind: ClassVar[str] = "stream"

    endpoint: KernelEndpoint
    _tasks: set[asyncio.Task[Any]]

    @property
    def query(self) -> dict[str, str]:
        raw = bytes(self.scope.get("query_string") or b"").decode("latin-1")
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def log_extra(self, **more: Any) -> dict[str, Any]:
        endpoint = getattr(self, "endpoint", None)
        return {
            "stream": self.stream_kind,
            "session_id": str(endpoint.session_id) if endpoint else None,
            **more,
        }

    async def connect(self) -> None:
        self._tasks = set()
        try:
            keypair, self.endpoint = await handshake_resolve_async(
                self.scope,
                ref=self.scope["url_route"]["kwargs"]["ref"],
                owner_access_key=self.query.get("owner_access_key") or None,
            )
            await self.prepare()
        except BackendError as error:
            await self.deny(error)
            return
        await self.accept()
        log.info("stream opened", extra=self.log_extra(access_key=keypair.access_key))
        await self.opened()

    async def prepare(self) -> None:
        """Before the handshake is answered: raise a BackendError to refuse."""

    async def opened(self) -> None:
        """After the handshake was accepted."""

    async def deny(self, error: BackendError) -> None:
        status = problem_status(error)
        log.info(
            "stream refused",
            extra=self.log_extra(status=status, error_type=error.error_type),
        )
        if DENIAL_EXTENSION in (self.scope.get("extensions") or {}):
            body = json.dumps(error.as_problem()).encode()
            await self.base_send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await self.base_send({"type": "websocket.http.response.body", "body": body})
        else:
            await self.close()  # the server answers 403

    async def fail(self, error: BackendError) -> None:
        """After the handshake: a JSON error frame, then close with 4000 + status."""
        with contextlib.suppress(Exception):
            await self.send(text_data=json.dumps(self.error_frame(error)))
        await self.close(code=close_code_for(error))

    def error_frame(self, error: BackendError) -> dict[str, Any]:
        return {"type": "error", **error.as_problem()}

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def disconnect(self, code: int) -> None:
        for task in list(getattr(self, "_tasks", ())):
            task.cancel()
        for task in list(getattr(self, "_tasks", ())):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.cleanup()
        if hasattr(self, "endpoint"):
            log.info("stream closed", extra=self.log_extra(code=code))

    async def cleanup(self) -> None:
        """Release what the stream holds (runner connections, TCP sockets)."""
