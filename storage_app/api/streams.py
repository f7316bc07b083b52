"""`GET /events/background-task?task_id=`: progress of a background task (clone) as SSE."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from backendai_site.accounts.authentication import keypair_from_signed_request
from backendai_site.common.api.exception_handler import problem_response
from backendai_site.common.bgtask import (
    FINAL_EVENTS,
    bgtask_channel,
    bgtask_owner,
    bgtask_replay_key,
)
from backendai_site.common.errors import BackendError, InvalidAPIParameters, MethodNotAllowed
from backendai_site.config import get_config
from storage_app.errors import VFolderNotFound

KEEPALIVE_SECONDS = 15.0


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _authorize(request: HttpRequest) -> uuid.UUID:
    keypair = keypair_from_signed_request(request)
    try:
        task_id = uuid.UUID(request.GET.get("task_id", ""))
    except ValueError:
        raise InvalidAPIParameters("task_id must be a UUID.") from None
    if bgtask_owner(task_id) != str(keypair.user_id):
        raise VFolderNotFound("No such background task of yours.")
    return task_id


async def _stream(task_id: uuid.UUID) -> AsyncIterator[bytes]:
    client = aioredis.Redis.from_url(get_config().redis_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(bgtask_channel(task_id))
        seen: set[bytes | str] = set()
        for raw in await client.lrange(bgtask_replay_key(task_id), 0, -1):
            seen.add(raw)
            message = json.loads(raw)
            yield _sse(message["event"], message["data"])
            if message["event"] in FINAL_EVENTS:
                yield _sse("server_close", {})
                return
        while True:
            item = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS
            )
            if item is None:
                yield b": keep-alive\n\n"
                continue
            if item["data"] in seen:
                continue
            message = json.loads(item["data"])
            yield _sse(message["event"], message["data"])
            if message["event"] in FINAL_EVENTS:
                yield _sse("server_close", {})
                return
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
            await client.aclose()


@csrf_exempt
async def bgtask_events(request: HttpRequest) -> HttpResponseBase:
    if request.method != "GET":
        return problem_response(MethodNotAllowed(f'Method "{request.method}" not allowed.'))
    try:
        task_id = await sync_to_async(_authorize)(request)
    except BackendError as exc:
        return problem_response(exc)
    response = StreamingHttpResponse(_stream(task_id), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
