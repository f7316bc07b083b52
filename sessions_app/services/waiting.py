"""Waiting for a session to reach a status without holding a transaction or a thread."""

from __future__ import annotations

import asyncio
import contextlib
import time
from uuid import UUID

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.db import connection

from backendai_site.config import get_config
from sessions_app.enums import SessionStatus
from sessions_app.models import Session

from .events import session_channel

POLL_SECONDS = 1.0


def _status(session_id: UUID) -> str:
    try:
        return Session.objects.filter(pk=session_id).values_list("status", flat=True).get()
    finally:
        connection.close()  # back to the pool: a waiting request must not hold a connection


def _close_connection() -> None:
    connection.close()  # resolved in the worker thread that holds the request's connection


async def release_db_connection() -> None:
    """Return this request's database connection to the pool before a long wait."""
    await sync_to_async(_close_connection)()


async def session_wait_settled(session_id: UUID, max_wait_seconds: float | None) -> str:
    """Wait until the session runs or ended; return its status (unchanged when time ran out).

    Wakes on the session's Redis event channel and re-reads the status from the database, with
    a one-second poll as a backstop against a missed message. `None` waits without limit.
    """
    settled = SessionStatus.running() | SessionStatus.dead()
    deadline = None if not max_wait_seconds else time.monotonic() + max_wait_seconds
    client = aioredis.Redis.from_url(get_config().redis_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(session_channel(session_id))
        while True:
            status = await sync_to_async(_status)(session_id)
            if status in settled:
                return status
            timeout = POLL_SECONDS
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return status
                timeout = min(timeout, remaining)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout),
                    timeout=timeout + 0.5,
                )
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
            await client.aclose()
