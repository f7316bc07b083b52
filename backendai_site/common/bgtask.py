"""Background-task progress (`/events/background-task`): a Redis replay list plus a channel.

Events are `bgtask_updated {current_progress,total_progress,message}`, then one of
`bgtask_done`, `bgtask_failed {message}` or `bgtask_cancelled`. A late listener replays the list,
so it still sees the end of a task that finished before it connected.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from backendai_site.common.redis import get_redis

log = logging.getLogger(__name__)

TTL_SECONDS = 3600
REPLAY_LENGTH = 200
FINAL_EVENTS = frozenset(
    {"bgtask_done", "bgtask_failed", "bgtask_cancelled", "bgtask_partial_success"}
)


def bgtask_channel(task_id: uuid.UUID | str) -> str:
    return f"bai:bgtask:{task_id}"


def bgtask_replay_key(task_id: uuid.UUID | str) -> str:
    return f"bai:bgtask:{task_id}:events"


def bgtask_owner_key(task_id: uuid.UUID | str) -> str:
    return f"bai:bgtask:{task_id}:owner"


def bgtask_register(*, owner_id: uuid.UUID) -> uuid.UUID:
    task_id = uuid.uuid4()
    get_redis().set(bgtask_owner_key(task_id), str(owner_id), ex=TTL_SECONDS)
    return task_id


def bgtask_owner(task_id: uuid.UUID) -> str | None:
    raw = get_redis().get(bgtask_owner_key(task_id))
    return raw.decode() if isinstance(raw, bytes) else raw


def bgtask_publish(task_id: uuid.UUID | str, event: str, data: dict[str, Any]) -> None:
    message = json.dumps({"event": event, "data": {"task_id": str(task_id), **data}})
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.rpush(bgtask_replay_key(task_id), message)
        pipe.ltrim(bgtask_replay_key(task_id), -REPLAY_LENGTH, -1)
        pipe.expire(bgtask_replay_key(task_id), TTL_SECONDS)
        pipe.publish(bgtask_channel(task_id), message)
        pipe.execute()
    except Exception:  # progress is best-effort; the task's result is in the database
        log.warning("bgtask event not published", extra={"task_id": str(task_id)}, exc_info=True)
