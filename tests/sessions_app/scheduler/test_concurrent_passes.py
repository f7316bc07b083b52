"""Two passes racing on separate connections never reserve more than an agent has."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from unittest import mock

import pytest
from django.db import connection

from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.scheduler import runner
from sessions_app.scheduler.runner import PassReport, schedule_resource_group
from tests.factories.sessions import agent_with_capacity
from tests.helpers.scheduler import allocation_violations, make_group, pending


def _race(group_id: int, passes: int = 2) -> list[PassReport]:
    barrier = threading.Barrier(passes)
    reports: list[PassReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            reports.append(schedule_resource_group(group_id))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(passes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return reports


def _world() -> tuple[int, list[Session]]:
    group = make_group(agent_selection_strategy="dispersed")
    for _ in range(2):
        agent_with_capacity(group, cpu=4)
    sessions = [pending(group, cpu="1") for _ in range(12)]
    return group.pk, sessions


def _assert_consistent(sessions: list[Session]) -> None:
    assert allocation_violations() == []
    scheduled = Session.objects.filter(
        pk__in=[s.pk for s in sessions], status=SessionStatus.SCHEDULED
    ).count()
    assert scheduled == 8  # exactly the capacity: nothing lost, nothing doubled
    assert Kernel.objects.filter(holds_resources=True).count() == 8


@pytest.fixture(autouse=True)
def _no_start_hooks() -> Iterator[None]:
    """Starting kernels is not under test: keep the scheduled sessions SCHEDULED."""
    with mock.patch.object(runner, "sessions_scheduled_notify"):
        yield


@pytest.mark.django_db(transaction=True)
class TestConcurrentPasses:
    def test_second_pass_yields_to_the_lock_holder(self) -> None:
        group_id, sessions = _world()

        reports = _race(group_id)

        assert any(r.ran for r in reports)
        _assert_consistent(sessions)

    def test_conditional_updates_hold_without_the_lock(self) -> None:
        group_id, sessions = _world()

        with mock.patch.object(runner, "_lock", return_value=True):
            _race(group_id, passes=3)

        _assert_consistent(sessions)
