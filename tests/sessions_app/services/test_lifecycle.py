from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from agents_app.enums import AgentStatus
from agents_app.schemas import (
    TERMINATED_WHILE_AGENT_DOWN,
    AgentLost,
    KernelCreationFailed,
    KernelTerminated,
)
from sessions_app.enums import KernelStatus, SessionResult, SessionStatus
from sessions_app.models import Session
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services import lifecycle
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld
from tests.helpers.lifecycle import Sent, started_event, used

pytestmark = pytest.mark.django_db


class TestSessionStart:
    def test_scheduled_session_is_started_on_its_agent(
        self, world: ComputeWorld, scheduled_session: Session, sent_commands: Sent
    ) -> None:
        kernel = scheduled_session.kernels.get()

        assert scheduled_session.status == SessionStatus.PREPARING
        assert kernel.status == KernelStatus.PREPARING and kernel.holds_resources
        assert [(a, c) for a, c, _ in sent_commands] == [(world.agent.pk, "create_kernel")]
        payload = sent_commands[0][2]
        assert payload.kernel_id == str(kernel.pk)
        assert payload.kernel_secret == kernel.runner_secret and len(kernel.runner_secret) >= 32
        assert payload.startup_command == "true"  # the agent's KernelSpec carries it on
        assert used(world, "cpu") == Decimal(1)


class TestAgentEvents:
    def test_kernel_started_makes_the_session_running(
        self, scheduled_session: Session, django_capture_on_commit_callbacks: Callable[..., Any]
    ) -> None:
        kernel = scheduled_session.kernels.get()

        lifecycle.on_kernel_started(started_event(kernel))

        kernel.refresh_from_db()
        scheduled_session.refresh_from_db()
        assert scheduled_session.status == SessionStatus.RUNNING
        assert (kernel.status, kernel.runner_port, kernel.container_id) == (
            KernelStatus.RUNNING, 30001, "c0ffee",
        )  # fmt: skip
        assert kernel.host_ports == {"runner": 30001, "http": 30002}

    def test_started_event_is_idempotent(self, scheduled_session: Session) -> None:
        kernel = scheduled_session.kernels.get()

        lifecycle.on_kernel_started(started_event(kernel))
        lifecycle.on_kernel_started(started_event(kernel))

        history = list(scheduled_session.history.values_list("status", flat=True))
        assert history.count("RUNNING") == 1

    def test_creation_failure_errors_the_session_and_frees_capacity(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        kernel = scheduled_session.kernels.get()

        lifecycle.on_kernel_creation_failed(
            KernelCreationFailed(
                agent_id=world.agent.pk, kernel_id=str(kernel.pk), reason="image-not-found"
            )
        )

        scheduled_session.refresh_from_db()
        assert scheduled_session.status == SessionStatus.ERROR
        assert scheduled_session.status_info == "image-not-found"
        assert used(world, "cpu") == 0 and used(world, "mem") == 0

    def test_batch_exit_code_sets_the_result(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        kernel = scheduled_session.kernels.get()
        lifecycle.on_kernel_started(started_event(kernel))

        lifecycle.on_kernel_terminated(
            KernelTerminated(agent_id=world.agent.pk, kernel_id=str(kernel.pk), exit_code=3)
        )

        scheduled_session.refresh_from_db()
        assert scheduled_session.result == SessionResult.FAILURE
        assert scheduled_session.status == SessionStatus.TERMINATED
        assert used(world, "cpu") == 0

    def test_stop_half_of_a_restart_does_not_end_the_session(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        from datetime import timedelta

        kernel = scheduled_session.kernels.get()
        lifecycle.on_kernel_started(started_event(kernel))
        kernel.refresh_from_db()
        assert kernel.status_changed is not None
        stale = KernelTerminated(
            agent_id=world.agent.pk,
            kernel_id=str(kernel.pk),
            exit_code=0,
            at=kernel.status_changed - timedelta(seconds=1),
        )

        lifecycle.on_kernel_terminated(stale)

        kernel.refresh_from_db()
        scheduled_session.refresh_from_db()
        assert kernel.status == KernelStatus.RUNNING
        assert scheduled_session.status == SessionStatus.RUNNING

    def test_kernel_oom_killed_while_starting_ends_the_session(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        kernel = scheduled_session.kernels.get()

        lifecycle.on_kernel_terminated(
            KernelTerminated(
                agent_id=world.agent.pk, kernel_id=str(kernel.pk), exit_code=137, oom_killed=True
            )
        )

        kernel.refresh_from_db()
        scheduled_session.refresh_from_db()
        assert (kernel.status, kernel.status_info) == (KernelStatus.TERMINATED, "oom-killed")
        assert scheduled_session.status == SessionStatus.TERMINATED
        assert used(world, "cpu") == 0

    def test_lost_agent_ends_its_kernels(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        from django.utils import timezone

        kernel = scheduled_session.kernels.get()
        lifecycle.on_kernel_started(started_event(kernel))

        lifecycle.on_agent_lost(AgentLost(agent_id=world.agent.pk, lost_at=timezone.now()))

        kernel.refresh_from_db()
        scheduled_session.refresh_from_db()
        assert (kernel.status, kernel.status_info) == (KernelStatus.TERMINATED, "agent-lost")
        assert scheduled_session.status == SessionStatus.TERMINATED
        assert used(world, "cpu") == 0

    def test_unknown_kernels_are_reported_for_removal(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        kernel = scheduled_session.kernels.get()
        stranger = "00000000-0000-0000-0000-000000000001"

        unknown = lifecycle.unknown_kernels(world.agent.pk, [str(kernel.pk), stranger, "junk"])

        assert unknown == [stranger, "junk"]


class TestSessionDestroy:
    def test_pending_session_is_cancelled(self, world: ComputeWorld, sent_commands: Sent) -> None:
        session = session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate({"image": "python", "enqueueOnly": True}),
        ).session

        lifecycle.session_destroy(session=session)

        session.refresh_from_db()
        assert session.status == SessionStatus.CANCELLED
        assert session.kernels.get().status == KernelStatus.CANCELLED
        assert sent_commands == []

    def test_running_session_asks_the_agent(
        self, world: ComputeWorld, scheduled_session: Session, sent_commands: Sent,
        django_capture_on_commit_callbacks: Callable[..., Any],
    ) -> None:  # fmt: skip
        kernel = scheduled_session.kernels.get()
        lifecycle.on_kernel_started(started_event(kernel))

        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.session_destroy(session=scheduled_session)

        scheduled_session.refresh_from_db()
        assert scheduled_session.status == SessionStatus.TERMINATING
        assert sent_commands[-1][1] == "destroy_kernel"
        assert used(world, "cpu") == 1  # freed only when the agent reports the kernel gone

    def test_forced_destroy_finishes_when_the_agent_is_lost(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        kernel = scheduled_session.kernels.get()
        lifecycle.on_kernel_started(started_event(kernel))
        world.agent.status = AgentStatus.LOST
        world.agent.save(update_fields=["status"])

        lifecycle.session_destroy(session=scheduled_session, forced=True)

        scheduled_session.refresh_from_db()
        assert scheduled_session.status == SessionStatus.TERMINATED
        assert used(world, "cpu") == 0


class TestAgentRestartDuringACreate:
    def test_a_container_gone_before_the_start_requeues_the_session(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        kernel = scheduled_session.kernels.get()
        assert kernel.status in KernelStatus.starting()

        lifecycle.on_kernel_terminated(
            KernelTerminated(
                agent_id=world.agent.pk,
                kernel_id=str(kernel.pk),
                reason=TERMINATED_WHILE_AGENT_DOWN,
            )
        )

        scheduled_session.refresh_from_db()
        kernel.refresh_from_db()
        assert scheduled_session.status == SessionStatus.PENDING
        assert scheduled_session.status_data["requeues"] == 1
        assert scheduled_session.status_data["scheduler"]["verdict"] == TERMINATED_WHILE_AGENT_DOWN
        assert (kernel.status, kernel.agent_id, kernel.holds_resources) == (
            KernelStatus.PENDING, None, False,
        )  # fmt: skip
        assert used(world, "cpu") == 0 and used(world, "mem") == 0

    def test_a_started_kernel_gone_while_the_agent_was_down_ends_its_session(
        self, world: ComputeWorld, scheduled_session: Session
    ) -> None:
        kernel = scheduled_session.kernels.get()
        lifecycle.on_kernel_started(started_event(kernel))

        lifecycle.on_kernel_terminated(
            KernelTerminated(
                agent_id=world.agent.pk,
                kernel_id=str(kernel.pk),
                reason=TERMINATED_WHILE_AGENT_DOWN,
            )
        )

        scheduled_session.refresh_from_db()
        assert scheduled_session.status == SessionStatus.TERMINATED
        assert used(world, "cpu") == 0
