"""Wake the scheduler of a resource group after the current transaction commits, debounced.

The first hint of a burst sets `bai:sched:hint:<group>` (NX, short TTL) and enqueues the pass
with a short countdown; later hints see the key and do nothing. The task deletes the key before
it snapshots, so a hint that arrives after that enqueues a new pass: the last hint is never lost
(and the beat backstop covers a lost message or Redis being away).
"""

from __future__ import annotations

import logging

from django.db import transaction

from backendai_site.common.redis import get_redis
from backendai_site.config import get_config
from sessions_app.dispatch import MANAGER_QUEUE, SCHEDULE_RESOURCE_GROUP, task_send

log = logging.getLogger(__name__)

HINT_TTL_MS = 5000


def hint_key(resource_group_id: int) -> str:
    return f"bai:sched:hint:{resource_group_id}"


def dirty_key(resource_group_id: int) -> str:
    return f"bai:sched:dirty:{resource_group_id}"


def scheduler_hint(resource_group_id: int) -> None:
    """Ask for a scheduler pass of `resource_group_id` once the current transaction commits."""
    transaction.on_commit(lambda: _send_hint(resource_group_id))


def hint_consume(resource_group_id: int) -> None:
    """Called by the task before its pass: later hints enqueue a new pass."""
    try:
        get_redis().delete(hint_key(resource_group_id))
    except Exception:
        log.warning("scheduler hint key not cleared", extra={"resource_group": resource_group_id})


def _send_hint(resource_group_id: int) -> None:
    debounce = get_config().scheduler.hint_debounce
    try:
        first = bool(get_redis().set(hint_key(resource_group_id), b"1", nx=True, px=HINT_TTL_MS))
    except Exception:  # no debounce without Redis, but never drop the hint
        log.warning(
            "scheduler hint debounce unavailable", extra={"resource_group": resource_group_id}
        )
        first = True
    if not first:
        return
    try:
        task_send(
            SCHEDULE_RESOURCE_GROUP,
            args=[resource_group_id],
            queue=MANAGER_QUEUE,
            countdown=debounce,
        )
    except Exception:  # the beat backstop will run the pass
        hint_consume(resource_group_id)
        log.exception("scheduler hint not sent", extra={"resource_group": resource_group_id})
