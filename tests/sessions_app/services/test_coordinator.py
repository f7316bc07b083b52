"""The status coordinator and capacity that follows the agent's word (issue: nothing stuck).

Agent commands are recorded (no agent runs); `now` is moved past each timeout instead of waiting.
The coordinator against real workers and agents is exercised by tests/integration/faults/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from agents_app.enums import AgentStatus
from agents_app.schemas import KernelCreationFailed, KernelTerminated
from backendai_site.config import get_config
from sessions_app.enums import KernelStatus, SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.scheduler.runner import schedule_resource_group
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services import lifecycle
from sessions_app.services.coordinator import LOCK_NAME, CoordinatorReport, sessions_coordinate
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld
from tests.helpers.lifecycle import Sent, started_event, used

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def later(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


def coordinate(capture: Capture, *, at: datetime) -> CoordinatorReport:
    with capture(execute=True):
        return sessions_coordinate(now=at)


def commands(sent: Sent) -> list[str]:
    return [command for _, command, _ in sent]


def refused(kernel: Kernel) -> KernelCreationFailed:
    return KernelCreationFailed(
        agent_id=str(kernel.agent_id),
        kernel_id=str(kernel.pk),
        reason="insufficient-resource",
        detail="cpu: requested 1, free 0",
    )


@pytest.fixture
def running_session(scheduled_session: Session) -> Session:
    lifecycle.on_kernel_started(started_event(scheduled_session.kernels.get()))
    scheduled_session.refresh_from_db()
    return scheduled_session


class TestCapacityFollowsTheAgent:
    def test_forced_destroy_keeps_the_capacity_until_the_agent_confirms(
        self, world: ComputeWorld, running_session: Session, capture: Capture
    ) -> None:
        kernel = running_session.kernels.get()

        with capture(execute=True):
            lifecycle.session_destroy(session=running_session, forced=True)

        running_session.refresh_from_db()
        assert running_session.status == SessionStatus.TERMINATED
        assert used(world, "cpu") == 1  # the container may still be on its CPUs

        lifecycle.on_kernel_terminated(
            KernelTerminated(agent_id=world.agent.pk, kernel_id=str(kernel.pk), reason="forced")
        )

        assert used(world, "cpu") == 0
        assert not Kernel.objects.get(pk=kernel.pk).holds_resources

    def test_an_insufficient_resource_refusal_puts_the_session_back_in_the_queue(
        self, world: ComputeWorld, scheduled_session: Session, sent_commands: Sent,
        capture: Capture,
    ) -> None:  # fmt: skip
        kernel = scheduled_session.kernels.get()

        with capture(execute=True):
            lifecycle.on_kernel_creation_failed(refused(kernel))

        scheduled_session.refresh_from_db()
        kernel.refresh_from_db()
        assert scheduled_session.status == SessionStatus.PENDING
        verdict = scheduled_session.status_data["scheduler"]
        assert verdict["verdict"] == "insufficient-resource"
        assert world.agent.pk in verdict["msg"]
        assert scheduled_session.status_data["requeues"] == 1
        assert (kernel.status, kernel.agent_id, kernel.holds_resources) == (
            KernelStatus.PENDING, None, False,
        )  # fmt: skip
        assert used(world, "cpu") == 0

        with capture(execute=True):
            schedule_resource_group(world.group.pk)

        scheduled_session.refresh_from_db()
        assert scheduled_session.status == SessionStatus.PREPARING
        assert commands(sent_commands) == ["create_kernel", "create_kernel"]
        assert used(world, "cpu") == 1

    def test_refusals_past_the_requeue_limit_end_in_error(
        self, world: ComputeWorld, scheduled_session: Session, capture: Capture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        monkeypatch.setattr(get_config().coordinator, "requeue_limit", 1)
        kernel = scheduled_session.kernels.get()
        with capture(execute=True):
            lifecycle.on_kernel_creation_failed(refused(kernel))
            schedule_resource_group(world.group.pk)
        kernel.refresh_from_db()

        with capture(execute=True):
            lifecycle.on_kernel_creation_failed(refused(kernel))

        scheduled_session.refresh_from_db()
        assert (scheduled_session.status, scheduled_session.status_info) == (
            SessionStatus.ERROR, "insufficient-resource",
        )  # fmt: skip
        assert used(world, "cpu") == 0

    # "stale": the manager's destroy of a start it no longer wanted; "orphan": the agent's
    # clean-up, at its restart, of a container reconcile did not expect there
    @pytest.mark.parametrize("reason", ["stale", "orphan"])
    def test_the_clean_up_of_an_earlier_placement_does_not_end_the_new_one(
        self, world: ComputeWorld, scheduled_session: Session, capture: Capture, reason: str
    ) -> None:
        kernel = scheduled_session.kernels.get()
        with capture(execute=True):
            lifecycle.on_kernel_creation_failed(refused(kernel))
            schedule_resource_group(world.group.pk)

        lifecycle.on_kernel_terminated(
            KernelTerminated(agent_id=world.agent.pk, kernel_id=str(kernel.pk), reason=reason)
        )

        kernel.refresh_from_db()
        assert kernel.status == KernelStatus.PREPARING and kernel.holds_resources
        assert used(world, "cpu") == 1

    def test_an_agent_lost_before_the_start_requeues_the_session(
        self, world: ComputeWorld, scheduled_session: Session, capture: Capture
    ) -> None:
        world.agent.status = AgentStatus.LOST
        world.agent.save(update_fields=["status"])

        report = coordinate(capture, at=later(1))

        scheduled_session.refresh_from_db()
        assert report.lost_agents == [world.agent.pk]
        assert scheduled_session.status == SessionStatus.PENDING
        assert scheduled_session.status_data["scheduler"]["verdict"] == "agent-lost"
        assert used(world, "cpu") == 0


class TestCoordinator:
    def test_a_scheduled_session_whose_start_was_lost_is_started(
        self, world: ComputeWorld, sent_commands: Sent, capture: Capture
    ) -> None:
        session = session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate(
                {"image": "python", "enqueueOnly": True, "config": {"resources": {"cpu": "1"}}}
            ),
        ).session
        with capture(execute=False):  # the pass commits; its start hook never runs
            schedule_resource_group(world.group.pk)
        session.refresh_from_db()
        assert session.status == SessionStatus.SCHEDULED

        early = coordinate(capture, at=later(1))
        report = coordinate(capture, at=later(get_config().coordinator.scheduled_timeout + 1))

        session.refresh_from_db()
        assert early.started == [] and report.started == [session.pk]
        assert session.status == SessionStatus.PREPARING
        assert commands(sent_commands) == ["create_kernel"]

    def test_a_start_without_progress_is_retried_then_ends_in_error(
        self, world: ComputeWorld, scheduled_session: Session, sent_commands: Sent,
        capture: Capture,
    ) -> None:  # fmt: skip
        config = get_config().coordinator
        step = config.start_timeout + 1
        kernel = scheduled_session.kernels.get()

        assert coordinate(capture, at=later(1)).create_resent == []
        for attempt in range(1, config.start_attempts):
            report = coordinate(capture, at=later(step * attempt))
            assert report.create_resent == [kernel.pk]
        report = coordinate(capture, at=later(step * config.start_attempts))

        scheduled_session.refresh_from_db()
        assert report.gave_up == [kernel.pk]
        assert commands(sent_commands) == ["create_kernel"] * config.start_attempts + [
            "destroy_kernel"
        ]
        assert (scheduled_session.status, scheduled_session.status_info) == (
            SessionStatus.ERROR, "start-timeout",
        )  # fmt: skip
        assert "create_kernel sends" in scheduled_session.status_data["error"]["detail"]
        assert used(world, "cpu") == 1  # until the agent says the container is gone

        lifecycle.on_kernel_terminated(
            KernelTerminated(agent_id=world.agent.pk, kernel_id=str(kernel.pk))
        )

        scheduled_session.refresh_from_db()
        assert used(world, "cpu") == 0
        assert scheduled_session.status == SessionStatus.ERROR

    def test_a_destroy_is_resent_until_the_agent_confirms(
        self, world: ComputeWorld, running_session: Session, sent_commands: Sent,
        capture: Capture,
    ) -> None:  # fmt: skip
        timeout = get_config().coordinator.terminate_timeout
        kernel = running_session.kernels.get()
        with capture(execute=True):
            lifecycle.session_destroy(session=running_session)
        del sent_commands[:]

        assert coordinate(capture, at=later(1)).destroy_resent == []
        assert coordinate(capture, at=later(timeout + 1)).destroy_resent == [kernel.pk]
        assert coordinate(capture, at=later(timeout + 2)).destroy_resent == []
        assert coordinate(capture, at=later(2 * timeout + 2)).destroy_resent == [kernel.pk]
        assert commands(sent_commands) == ["destroy_kernel", "destroy_kernel"]

        lifecycle.on_kernel_terminated(
            KernelTerminated(agent_id=world.agent.pk, kernel_id=str(kernel.pk))
        )

        running_session.refresh_from_db()
        assert running_session.status == SessionStatus.TERMINATED
        assert coordinate(capture, at=later(4 * timeout)).destroy_resent == []

    def test_a_terminating_kernel_on_a_lost_agent_is_finished(
        self, world: ComputeWorld, running_session: Session, capture: Capture
    ) -> None:
        with capture(execute=True):
            lifecycle.session_destroy(session=running_session)
        world.agent.status = AgentStatus.LOST
        world.agent.save(update_fields=["status"])

        coordinate(capture, at=later(1))

        running_session.refresh_from_db()
        assert running_session.status == SessionStatus.TERMINATED
        assert used(world, "cpu") == 0

    def test_a_dead_kernel_still_holding_capacity_is_asked_about_again(
        self, world: ComputeWorld, running_session: Session, sent_commands: Sent,
        capture: Capture,
    ) -> None:  # fmt: skip
        kernel = running_session.kernels.get()
        with capture(execute=True):
            lifecycle.session_destroy(session=running_session, forced=True)
        del sent_commands[:]

        report = coordinate(capture, at=later(get_config().coordinator.terminate_timeout + 1))

        assert report.destroy_resent == [kernel.pk]
        assert sent_commands[0][2].reason == "release-check"

    def test_a_restart_that_never_ends_is_an_error(
        self, world: ComputeWorld, running_session: Session, capture: Capture
    ) -> None:
        with capture(execute=True):
            lifecycle.session_restart(session=running_session)

        coordinate(capture, at=later(get_config().coordinator.restart_timeout + 1))

        running_session.refresh_from_db()
        assert (running_session.status, running_session.status_info) == (
            SessionStatus.ERROR, "restart-timeout",
        )  # fmt: skip

    def test_an_agent_neither_alive_nor_lost_is_waited_for(
        self, world: ComputeWorld, scheduled_session: Session, sent_commands: Sent,
        capture: Capture,
    ) -> None:  # fmt: skip
        world.agent.status = AgentStatus.RESTARTING
        world.agent.save(update_fields=["status"])

        report = coordinate(capture, at=later(10 * get_config().coordinator.start_timeout))

        scheduled_session.refresh_from_db()
        assert report.create_resent == [] and report.gave_up == []
        assert scheduled_session.status == SessionStatus.PREPARING

    def test_one_run_at_a_time(self, capture: Capture) -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [LOCK_NAME])
            assert coordinate(capture, at=later(1)).ran is False
        finally:
            other.close()
        # the server ends the closed connection's backend (and frees its lock) a moment later
        deadline = time.monotonic() + 10
        while not coordinate(capture, at=later(1)).ran:
            assert time.monotonic() < deadline, "the lock was not released"
            time.sleep(0.05)
