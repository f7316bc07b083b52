"""Celery tasks of the sessions app (autodiscovered by the Celery app). Thin: they call services.

Each task's name comes from `sessions_app.dispatch`, through which services enqueue them.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from sessions_app import dispatch
from sessions_app.scheduler.tasks import (
    schedule_all_resource_groups_task,
    schedule_resource_group_task,
)
from sessions_app.services.batch import session_batch_run
from sessions_app.services.callbacks import session_callback_post
from sessions_app.services.coordinator import sessions_coordinate
from sessions_app.services.idle import sessions_idle_check
from sessions_app.services.sweeps import batch_timeouts_enforce
from sessions_app.services.usage import usage_intervals_record
from sessions_app.services.warm_pools import warm_pools_refill

__all__ = [
    "schedule_all_resource_groups_task",
    "schedule_resource_group_task",
    "session_batch_run_task",
    "session_callback_notify",
    "sessions_coordinate_task",
    "sessions_idle_check_task",
    "sweep_batch_timeouts",
    "usage_intervals_record_task",
    "warm_pools_refill_task",
]


@shared_task(name=dispatch.SESSION_CALLBACK_NOTIFY, ignore_result=True)
def session_callback_notify(callback_url: str, payload: dict[str, Any]) -> None:
    session_callback_post(callback_url=callback_url, payload=payload)


@shared_task(name=dispatch.SESSION_BATCH_RUN, ignore_result=True)
def session_batch_run_task(session_id: str) -> None:
    session_batch_run(session_id)


@shared_task(name=dispatch.SWEEP_BATCH_TIMEOUTS, ignore_result=True)
def sweep_batch_timeouts() -> None:
    batch_timeouts_enforce()


@shared_task(name=dispatch.SESSIONS_IDLE_CHECK, ignore_result=True)
def sessions_idle_check_task() -> None:
    sessions_idle_check()


@shared_task(name=dispatch.SESSIONS_COORDINATE, ignore_result=True)
def sessions_coordinate_task() -> None:
    sessions_coordinate()


@shared_task(name=dispatch.USAGE_INTERVALS_RECORD, ignore_result=True)
def usage_intervals_record_task(kernel_ids: list[str] | None = None) -> None:
    usage_intervals_record(kernel_ids=kernel_ids)


@shared_task(name=dispatch.WARM_POOLS_REFILL, ignore_result=True)
def warm_pools_refill_task() -> None:
    warm_pools_refill()
