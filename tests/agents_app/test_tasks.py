"""agents_app.tasks: the events-queue tasks validate payloads, call services, answer agents."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from agents_app import events, tasks
from agents_app.enums import AgentStatus
from agents_app.models import Agent, Image, ImageAlias
from agents_app.schemas import AgentStarted, Reconcile, ReportedKernel
from backendai_site.config import get_config
from tests.helpers.agents import HeartbeatMaker

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_commands(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    sent: list[tuple[str, str, Any]] = []

    def record(*, agent_id: str, command: str, payload: Any) -> None:
        sent.append((agent_id, command, payload))

    monkeypatch.setattr(tasks, "agent_command_send", record)
    return sent


@pytest.fixture
def manager_knows_only_k1(monkeypatch: pytest.MonkeyPatch) -> None:
    # monkeypatch puts the registered resolver (sessions_app's) back afterwards: later tests
    # (the warm pools' reconcile) rely on it
    monkeypatch.setattr(
        events,
        "_ownership_resolver",
        lambda agent_id, kernel_ids: [k for k in kernel_ids if k != "k1"],
    )


class TestAgentStartedTask:
    def test_unknown_kernels_are_sent_back_for_destruction(
        self,
        make_heartbeat: HeartbeatMaker,
        sent_commands: list[tuple[str, str, Any]],
        manager_knows_only_k1: None,
        recorded_events: list[tuple[str, Any]],
    ) -> None:
        beat = make_heartbeat()
        started = AgentStarted(
            **beat.model_dump(exclude={"kernels"}),
            kernels=[
                ReportedKernel(kernel_id="k1", running=True),
                ReportedKernel(kernel_id="k9", running=True),
            ],
        )

        tasks.agent_started(started.model_dump(mode="json"))

        assert Agent.objects.get(pk="i-node1").status == AgentStatus.ALIVE
        assert sent_commands == [("i-node1", "reconcile", Reconcile(destroy_kernel_ids=["k9"]))]
        assert [name for name, _ in recorded_events] == ["agent_started"]

    def test_without_a_resolver_nothing_is_destroyed(
        self,
        make_heartbeat: HeartbeatMaker,
        sent_commands: list[tuple[str, str, Any]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(events, "_ownership_resolver", None)
        started = AgentStarted(
            **make_heartbeat().model_dump(exclude={"kernels"}),
            kernels=[ReportedKernel(kernel_id="k9", running=True)],
        )

        tasks.agent_started(started.model_dump(mode="json"))

        assert sent_commands == [("i-node1", "reconcile", Reconcile(destroy_kernel_ids=[]))]


class TestKernelEventTasks:
    def test_kernel_events_reach_subscribers_as_models(
        self, recorded_events: list[tuple[str, Any]]
    ) -> None:
        tasks.kernel_terminated(
            {"agent_id": "i-1", "kernel_id": "k1", "exit_code": 137, "oom_killed": True}
        )

        ((name, event),) = recorded_events
        assert name == "kernel_terminated"
        assert (event.kernel_id, event.exit_code, event.oom_killed) == ("k1", 137, True)

    def test_a_failing_subscriber_does_not_starve_the_others(self) -> None:
        seen: list[str] = []

        def broken(event: Any) -> None:
            raise RuntimeError("boom")

        def working(event: Any) -> None:
            seen.append(event.kernel_id)

        events.subscribe("kernel_started", broken)
        events.subscribe("kernel_started", working)
        try:
            with pytest.raises(RuntimeError):
                tasks.kernel_started(
                    {"agent_id": "i-1", "kernel_id": "k1", "container_id": "c", "host": "h"}
                )
        finally:
            events.unsubscribe("kernel_started", broken)
            events.unsubscribe("kernel_started", working)

        assert seen == ["k1"]


class TestHeartbeatAndSweepTasks:
    def test_heartbeat_task_registers_and_sweep_uses_the_configured_timeout(
        self, make_heartbeat: HeartbeatMaker, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        tasks.agent_heartbeat(make_heartbeat().model_dump(mode="json"))
        monkeypatch.setattr(get_config().agents, "lost_timeout", 0.000001)

        lost = tasks.sweep_lost_agents()

        assert lost == ["i-node1"]


class TestRescanImagesCommand:
    def test_builds_the_catalog_and_default_aliases(self, make_heartbeat: HeartbeatMaker) -> None:
        tasks.agent_heartbeat(make_heartbeat().model_dump(mode="json"))

        call_command("rescan_images", "--no-registries")

        image = Image.objects.get()
        assert image.canonical == "backendai/python:3.11-debian"
        assert image.service_ports[0] == {"name": "ttyd", "protocol": "http", "ports": [7681]}
        assert sorted(ImageAlias.objects.values_list("alias", flat=True)) == [
            "python",
            "python:3.11",
        ]
