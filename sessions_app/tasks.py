"""Celery tasks of the sessions app (autodiscovered by the Celery app). Thin: they call services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from sessions_app.scheduler.tasks import (
    schedule_all_resource_groups_task,
    schedule_resource_group_task,
)


@shared_task(name="sessions_app.session_callback_notify", ignore_result=True)
def session_callback_notify(callback_url: str, payload: dict[str, Any]) -> None:
    from sessions_app.services.callbacks import session_callback_post

    session_callback_post(callback_url=callback_url, payload=payload)


@shared_task(name="sessions_app.session_batch_run", ignore_result=True)
def session_batch_run_task(session_id: str) -> None:
    from sessions_app.services.batch import session_batch_run

    session_batch_run(session_id)


@shared_task(name="sessions_app.sweep_batch_timeouts", ignore_result=True)
def sweep_batch_timeouts() -> None:
    from sessions_app.services.sweeps import batch_timeouts_enforce

    batch_timeouts_enforce()


__all__ = [
    "schedule_all_resource_groups_task",
    "schedule_resource_group_task",
    "session_batch_run_task",
    "session_callback_notify",
    "sweep_batch_timeouts",
]


@shared_task(name="sessions_app.sessions_idle_check", ignore_result=True)
def sessions_idle_check_task() -> None:
    from sessions_app.services.idle import sessions_idle_check

    sessions_idle_check()
