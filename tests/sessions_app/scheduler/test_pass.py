"""The pass as a whole: verdicts, pending timeout, bounded query count, release, hooks, hints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from unittest import mock
from uuid import UUID

import pytest
import time_machine
from django.utils import timezone

from agents_app.models import ResourceGroup
from backendai_site.common.redis import get_redis
from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel
from sessions_app.scheduler import hints
from sessions_app.scheduler.allocation import kernel_release_resources
from sessions_app.scheduler.hooks import on_sessions_scheduled, remove_sessions_scheduled
from sessions_app.scheduler.runner import PassReport
from tests.factories.sessions import agent_with_capacity
from tests.helpers.scheduler import holding_session, make_group, pending, statuses, used, verdict

RunPass = Callable[..., PassReport]
# lock, 8 snapshot reads, capacity rows locked in order, reserve, transition, kernels, sessions,
# verdicts, savepoints
QUERY_BUDGET = 24


class TestVerdicts:
    def test_pending_sessions_get_position_length_and_time(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent_with_capacity(group, cpu=1)
        now = timezone.now()
        sessions = [pending(group, created=now - timedelta(seconds=10 - i)) for i in range(3)]

        with time_machine.travel(now, tick=False):
            run_pass(group)

        assert statuses(*sessions)[0] == SessionStatus.SCHEDULED
        second, third = verdict(sessions[1]), verdict(sessions[2])
        assert (second["queue_position"], second["queue_length"]) == (1, 2)
        assert (third["queue_position"], third["queue_length"]) == (2, 2)
        assert second["pass_at"] == now.isoformat()
        assert second["verdict"] == "insufficient-capacity"
        assert "cpu 1 requested, at most 0 free" in second["msg"]

    def test_verdict_cleared_when_placed(self, group: ResourceGroup, run_pass: RunPass) -> None:
        agent = agent_with_capacity(group, cpu=1)
        holder = holding_session(group, agent.id, cpu="1")
        session = pending(group)
        run_pass(group)
        assert verdict(session)["verdict"] == "insufficient-capacity"

        kernel_release_resources(holder.kernels.get().pk)
        run_pass(group)

        session.refresh_from_db()
        assert session.status == SessionStatus.SCHEDULED
        assert "scheduler" not in session.status_data
        assert session.occupying_slots == {"cpu": "1", "mem": str(1024**3)}

    def test_slot_no_agent_has(self, group: ResourceGroup, run_pass: RunPass) -> None:
        agent_with_capacity(group, cpu=4)
        session = pending(group, requested_slots={"cpu": "1", "cuda.device": "1"})

        run_pass(group)

        data = verdict(session)
        assert data["checks"] == [
            {"check": "agent-capacity", "slot": "cuda.device", "requested": "1",
             "available": "0", "short_by": "1"}
        ]  # fmt: skip

    def test_unchanged_verdict_is_not_rewritten(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent_with_capacity(group, cpu=1)
        pending(group, cpu="2")

        assert run_pass(group).verdicts_written == 1
        assert run_pass(group).verdicts_written == 0


class TestPendingTimeout:
    def test_cancels_sessions_pending_too_long(self, db: None, run_pass: RunPass) -> None:
        group = make_group(pending_timeout=60)
        agent_with_capacity(group, cpu=1)
        now = timezone.now()
        stale = pending(group, cpu="2", created=now - timedelta(seconds=30))
        run_pass(group)
        assert verdict(stale)["verdict"] == "insufficient-capacity"

        with time_machine.travel(now + timedelta(seconds=31), tick=False):
            report = run_pass(group)

        assert report.cancelled == [stale.pk]
        stale.refresh_from_db()
        assert stale.status == SessionStatus.CANCELLED
        assert stale.status_info == "pending-timeout"
        data = stale.status_data["scheduler"]
        assert data["verdict"] == "pending-timeout"
        assert [c["check"] for c in data["checks"]] == ["pending-timeout", "agent-capacity"]
        assert stale.history.last().reason == "pending-timeout"  # type: ignore[union-attr]


class TestQueryCount:
    @pytest.mark.parametrize("count", [3, 30])
    def test_bounded_whatever_the_queue_length(
        self,
        group: ResourceGroup,
        run_pass: RunPass,
        count: int,
        django_assert_max_num_queries: Any,
    ) -> None:
        for _ in range(4):
            agent_with_capacity(group, cpu=4)
        for _ in range(count):
            pending(group, cpu="1")

        with django_assert_max_num_queries(QUERY_BUDGET):
            report = run_pass(group)

        assert len(report.scheduled) == min(count, 16)
        assert report.pending == max(count - 16, 0)


class TestKernelReleaseResources:
    def test_release_is_idempotent_and_hints(self, group: ResourceGroup) -> None:
        agent = agent_with_capacity(group, cpu=4)
        holder = holding_session(group, agent.id, cpu="3")
        kernel = holder.kernels.get()

        with mock.patch.object(hints, "_send_hint") as send:
            from django.db import transaction

            first = kernel_release_resources(kernel.pk)
            second = kernel_release_resources(kernel.pk)
            # on_commit callbacks of the test transaction
            for _, callback, _ in transaction.get_connection().run_on_commit:
                callback()

        assert (first, second) == (True, False)
        assert used(agent.id) == 0 and used(agent.id, "mem") == 0
        assert Kernel.objects.get(pk=kernel.pk).holds_resources is False
        send.assert_called_with(group.pk)

    def test_unknown_kernel(self, db: None) -> None:
        assert kernel_release_resources(UUID(int=1)) is False


class TestHooks:
    def test_called_after_commit_with_scheduled_ids(
        self, group: ResourceGroup, run_pass: RunPass, django_capture_on_commit_callbacks: Any
    ) -> None:
        agent_with_capacity(group, cpu=4)
        session = pending(group)
        seen: list[Sequence[UUID]] = []
        on_sessions_scheduled(seen.append)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                run_pass(group)
        finally:
            remove_sessions_scheduled(seen.append)

        assert seen == [[session.pk]]


class TestSchedulerHint:
    def test_burst_enqueues_one_pass_until_consumed(
        self, group: ResourceGroup, django_capture_on_commit_callbacks: Any
    ) -> None:
        with (
            mock.patch("sessions_app.dispatch.app.send_task") as enqueue,
            django_capture_on_commit_callbacks(execute=True),
        ):
            for _ in range(20):
                hints.scheduler_hint(group.pk)
        assert enqueue.call_count == 1
        assert enqueue.call_args.kwargs["queue"] == "manager"

        hints.hint_consume(group.pk)  # what the task does first
        with (
            mock.patch("sessions_app.dispatch.app.send_task") as enqueue_again,
            django_capture_on_commit_callbacks(execute=True),
        ):
            hints.scheduler_hint(group.pk)
        assert enqueue_again.call_count == 1
        assert get_redis().exists(hints.hint_key(group.pk))
