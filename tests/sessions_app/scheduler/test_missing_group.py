"""A pass for a resource group that does not exist (yet, or any more) ends quietly."""

from __future__ import annotations

import logging

import pytest

from agents_app.models import ResourceGroup
from sessions_app.scheduler.runner import schedule_resource_group
from sessions_app.scheduler.tasks import schedule_resource_group_task


@pytest.fixture
def deleted_group_id(group: ResourceGroup) -> int:
    group_id = group.pk
    group.delete()
    return group_id


class TestPassOfMissingGroup:
    def test_pass_ends_without_error_and_logs_why(
        self, deleted_group_id: int, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="sessions_app.scheduler"):
            report = schedule_resource_group(deleted_group_id)

        assert report.ran and report.scheduled == [] and report.pending == 0
        skipped = [
            r for r in caplog.records if getattr(r, "reason", None) == "resource-group-missing"
        ]
        assert len(skipped) == 1
        assert getattr(skipped[0], "resource_group", None) == deleted_group_id
        assert skipped[0].levelno == logging.INFO
        assert not [r for r in caplog.records if r.exc_info]

    def test_celery_task_does_not_raise(self, deleted_group_id: int) -> None:
        schedule_resource_group_task.apply(args=[deleted_group_id]).get(propagate=True)
