"""Async endpoints: `POST /session` (which may wait for RUNNING) and `GET /events/session` (SSE).

They are plain Django async views so a waiting request holds neither a worker thread nor a
database transaction; authentication and errors follow the DRF views exactly.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from backendai_site.accounts.authentication import keypair_from_signed_request
from backendai_site.accounts.models import KeyPair
from backendai_site.common.api.exception_handler import problem_response
from backendai_site.common.errors import BackendError, InvalidAPIParameters, MethodNotAllowed
from backendai_site.common.validation import json_loads_bounded
from backendai_site.config import get_config
from sessions_app.enums import SessionAction, SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.schemas import SessionCreateRequest
from sessions_app.selectors import session_get_by_ref
from sessions_app.services.enqueue import session_enqueue
from sessions_app.services.events import session_channel, session_replay_key
from sessions_app.services.from_template import session_body_from_template
from sessions_app.services.waiting import release_db_connection, session_wait_settled

from .serializers import service_ports_of
from .views import SessionListView

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
CLOSING_EVENTS = frozenset({"session_terminated", "session_cancelled"})
_list_view = SessionListView.as_view()


def _parse_json(request: HttpRequest) -> dict[str, Any]:
    body = json_loads_bounded(request.body or b"{}")
    if not isinstance(body, dict):
        raise InvalidAPIParameters("The request body must be a JSON object.")
    return body


def _create_request(body: dict[str, Any]) -> SessionCreateRequest:
    try:
        return SessionCreateRequest.model_validate(body)
    except ValidationError as exc:
        fields = {
            ".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()
        }
        raise InvalidAPIParameters(
            "Invalid session parameters: " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
            data=fields,
        ) from None


def _create_response_body(
    session_id: UUID, created: bool, timed_out: bool, enqueued_only: bool
) -> dict[str, Any]:
    session = Session.objects.get(pk=session_id)
    kernels = list(Kernel.objects.filter(session_id=session_id).order_by("cluster_idx"))
    running = session.status in SessionStatus.running()
    status: str = session.status
    if timed_out:
        status = "TIMEOUT"
    elif enqueued_only:
        # the reference answers an enqueue-only create with PENDING, even when a fast scheduler
        # pass already moved the session on (the CLI prints "enqueued for scheduling")
        status = SessionStatus.PENDING
    return {
        "sessionId": str(session.pk),
        "sessionName": session.name,
        "status": status,
        "servicePorts": service_ports_of(session, kernels) if running else [],
        "created": created,
        "statusInfo": session.status_info,
        "schedulerVerdict": (session.status_data or {}).get("scheduler"),
    }


async def _create_and_respond(keypair: KeyPair, create: SessionCreateRequest) -> HttpResponse:
    """Enqueue, wait for RUNNING unless enqueue-only, answer as the reference does."""
    result = await sync_to_async(session_enqueue)(requester=keypair, request=create)
    session_id = result.session.pk
    timed_out = False
    if result.created and not create.enqueue_only:
        await release_db_connection()
        status = await session_wait_settled(session_id, create.max_wait_seconds or None)
        settled = status in SessionStatus.running() | SessionStatus.dead()
        timed_out = not settled
    body = await sync_to_async(_create_response_body)(
        session_id, result.created, timed_out, result.created and create.enqueue_only
    )
    return JsonResponse(body, status=201 if result.created else 200)


@csrf_exempt
async def session_collection(request: HttpRequest) -> HttpResponse:
    """`/session`: POST creates (and waits unless enqueueOnly), GET lists."""
    if request.method == "GET":
        response: HttpResponse = await sync_to_async(_list_view)(request)
        if hasattr(response, "render"):
            response = await sync_to_async(response.render)()
        return response
    if request.method != "POST":
        return problem_response(MethodNotAllowed(f'Method "{request.method}" not allowed.'))
    try:
        keypair = await sync_to_async(keypair_from_signed_request)(request)
        create = _create_request(_parse_json(request))
        return await _create_and_respond(keypair, create)
    except BackendError as exc:
        return problem_response(exc)


@csrf_exempt
async def session_create_from_template(request: HttpRequest) -> HttpResponse:
    """`POST /session/_/create-from-template`: the template's fields, overridden by the
    request's, then the same validation, enqueue and wait as `POST /session`."""
    if request.method != "POST":
        return problem_response(MethodNotAllowed(f'Method "{request.method}" not allowed.'))
    try:
        keypair = await sync_to_async(keypair_from_signed_request)(request)
        raw = _parse_json(request)
        body = await sync_to_async(session_body_from_template)(requester=keypair, body=raw)
        return await _create_and_respond(keypair, _create_request(body))
    except BackendError as exc:
        return problem_response(exc)


def _sse(event: str, data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _find_session_for_events(request: HttpRequest, keypair: KeyPair) -> Session:
    params = request.GET
    ref = params.get("sessionId") or params.get("sessionName") or params.get("name")
    if not ref:
        raise InvalidAPIParameters("sessionName or sessionId is required.")
    owner = params.get("owner_access_key") or params.get("ownerAccessKey")
    return session_get_by_ref(
        requester=keypair, ref=ref, action=SessionAction.VIEW, owner_access_key=owner
    )


def _scope(request: HttpRequest) -> set[str]:
    raw = request.GET.get("scope", "*")
    parts = {part.strip() for part in raw.split(",") if part.strip()}
    return {"session", "kernel"} if not parts or "*" in parts else parts


def _wanted(message: dict[str, Any], scope: set[str]) -> bool:
    kind = "kernel" if str(message.get("event", "")).startswith("kernel_") else "session"
    return kind in scope


async def _event_stream(session_id: UUID, scope: set[str]) -> AsyncIterator[bytes]:
    client = aioredis.Redis.from_url(get_config().redis_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(session_channel(session_id))
        seen: set[bytes] = set()
        replay = [
            bytes(r) if isinstance(r, bytes) else r.encode()
            for r in await client.lrange(session_replay_key(session_id), 0, -1)
        ]
        for raw in replay:
            seen.add(raw)
            message = json.loads(raw)
            if _wanted(message, scope):
                yield _sse(message["event"], message["data"])
            if message["event"] in CLOSING_EVENTS:
                yield _sse("server_close", {})
                return
        while True:
            item = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS
            )
            if item is None:
                yield b": keep-alive\n\n"
                continue
            raw = item["data"]
            if raw in seen:
                continue
            message = json.loads(raw)
            if _wanted(message, scope):
                yield _sse(message["event"], message["data"])
            if message["event"] in CLOSING_EVENTS:
                yield _sse("server_close", {})
                return
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
            await client.aclose()


@csrf_exempt
async def session_events(request: HttpRequest) -> HttpResponseBase:
    """`GET /events/session`: lifecycle events of one session as server-sent events."""
    if request.method != "GET":
        return problem_response(MethodNotAllowed(f'Method "{request.method}" not allowed.'))
    try:
        keypair = await sync_to_async(keypair_from_signed_request)(request)
        session = await sync_to_async(_find_session_for_events)(request, keypair)
        await release_db_connection()  # the stream itself only reads Redis
    except BackendError as exc:
        return problem_response(exc)
    response = StreamingHttpResponse(
        _event_stream(session.pk, _scope(request)), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


__all__ = ["session_collection", "session_events"]
