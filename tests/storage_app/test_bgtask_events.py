"""`GET /events/background-task`: the owner replays a task's events; nobody else sees them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from backendai_site.common.bgtask import bgtask_publish, bgtask_register
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db(transaction=True)


async def _collect(response: Any) -> bytes:
    return b"".join([chunk async for chunk in response.streaming_content])


class TestBackgroundTaskEvents:
    def test_owner_gets_the_events_then_server_close(
        self, alice: Api, signed_get: Callable[..., Any]
    ) -> None:
        task_id = bgtask_register(owner_id=alice.creds.user.pk)
        bgtask_publish(
            task_id,
            "bgtask_updated",
            {"current_progress": 1, "total_progress": 2, "message": "half"},
        )
        bgtask_publish(task_id, "bgtask_done", {"message": "done"})
        response = signed_get(alice.creds, f"/events/background-task?task_id={task_id}")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        body = asyncio.run(_collect(response)).decode()
        assert body.index("event: bgtask_updated") < body.index("event: bgtask_done")
        assert body.rstrip().endswith("data: {}") and "event: server_close" in body

    def test_someone_elses_task_is_not_found(
        self, alice: Api, bob: Api, signed_get: Callable[..., Any]
    ) -> None:
        task_id = bgtask_register(owner_id=alice.creds.user.pk)
        response = signed_get(bob.creds, f"/events/background-task?task_id={task_id}")
        assert response.status_code == 404
        assert response.json()["type"].endswith("/vfolder-not-found")
