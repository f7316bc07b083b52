"""Celery tasks of the scheduler (queue `manager`): thin callers of the pass."""

from __future__ import annotations

from celery import shared_task

from sessions_app import dispatch

from .hints import hint_consume
from .runner import schedule_all_resource_groups, schedule_resource_group

__all__ = ["schedule_all_resource_groups_task", "schedule_resource_group_task"]


@shared_task(name=dispatch.SCHEDULE_RESOURCE_GROUP, ignore_result=True)
def schedule_resource_group_task(resource_group_id: int) -> None:
    hint_consume(resource_group_id)
    schedule_resource_group(resource_group_id)


@shared_task(name=dispatch.SCHEDULE_ALL_RESOURCE_GROUPS, ignore_result=True)
def schedule_all_resource_groups_task() -> None:
    schedule_all_resource_groups()
