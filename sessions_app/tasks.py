"""Celery tasks of the sessions app (autodiscovered by the Celery app)."""

from __future__ import annotations

from sessions_app.scheduler.tasks import (
    schedule_all_resource_groups_task,
    schedule_resource_group_task,
)

__all__ = ["schedule_all_resource_groups_task", "schedule_resource_group_task"]
