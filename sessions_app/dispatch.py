"""The sessions app's Celery tasks, named once and enqueued by name.

Services queue work through this module rather than importing `sessions_app.tasks` (the tasks
import the services they call, so an import the other way would be a circle). `tasks.py` declares
each task with the name given here.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from backendai_site.celery import app

MANAGER_QUEUE = "manager"
BATCH_QUEUE = "batch"

SCHEDULE_RESOURCE_GROUP = "sessions_app.schedule_resource_group"
SCHEDULE_ALL_RESOURCE_GROUPS = "sessions_app.schedule_all_resource_groups"
SESSION_BATCH_RUN = "sessions_app.session_batch_run"
SESSION_CALLBACK_NOTIFY = "sessions_app.session_callback_notify"
SWEEP_BATCH_TIMEOUTS = "sessions_app.sweep_batch_timeouts"
SESSIONS_IDLE_CHECK = "sessions_app.sessions_idle_check"
SESSIONS_COORDINATE = "sessions_app.sessions_coordinate"
USAGE_INTERVALS_RECORD = "sessions_app.usage_intervals_record"
WARM_POOLS_REFILL = "sessions_app.warm_pools_refill"


def task_send(
    name: str, *, args: Sequence[object], queue: str, countdown: float | None = None
) -> None:
    """Queue the task `name` now (raises when the broker cannot be reached)."""
    app.send_task(name, args=list(args), queue=queue, countdown=countdown)


def task_send_on_commit(name: str, *, args: Sequence[object], queue: str) -> None:
    """Queue the task `name` once the current transaction commits (at once outside one)."""
    values = list(args)
    transaction.on_commit(lambda: task_send(name, args=values, queue=queue))
