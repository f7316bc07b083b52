"""agents_app.services.agents: registration, heartbeats, capacity upserts, LOST sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from agents_app.enums import AgentStatus, SlotType
from agents_app.models import Agent, AgentResource, ResourceGroup
from agents_app.schemas import AgentHeartbeat, KernelStat, SlotCapacity
from agents_app.services.agents import (
    agent_heartbeat,
    agent_mark_terminated,
    agent_record_heartbeat,
    agents_mark_lost,
    agents_set_schedulable,
)
from backendai_site.common.redis import get_redis
from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.services.idle import CPU_KEY
from tests.factories.agents import AgentFactory, AgentResourceFactory
from tests.factories.sessions import SessionFactory
from tests.helpers.agents import HeartbeatMaker

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _capacity(agent_id: str) -> dict[str, Decimal]:
    return dict(
        AgentResource.objects.filter(agent_id=agent_id).values_list("slot_name", "capacity")
    )


class TestAgentHeartbeat:
    def test_first_heartbeat_registers_the_agent_and_its_capacity(
        self, make_heartbeat: HeartbeatMaker
    ) -> None:
        outcome = agent_heartbeat(info=make_heartbeat(), now=T0)

        agent = Agent.objects.get(pk="i-node1")
        assert outcome.created
        assert agent.status == AgentStatus.ALIVE
        assert agent.first_contact == T0
        assert agent.last_heartbeat == T0
        assert agent.resource_group.name == "default"
        assert agent.local_images[0]["ref"] == "backendai/python:3.11-debian"
        assert _capacity("i-node1") == {"cpu": Decimal(4), "mem": Decimal(8 << 30)}

    def test_unchanged_heartbeat_updates_only_last_heartbeat(
        self, make_heartbeat: HeartbeatMaker
    ) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)

        with CaptureQueriesContext(connection) as queries:
            outcome = agent_heartbeat(info=make_heartbeat(), now=T0 + timedelta(seconds=5))

        writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT")]
        assert outcome.changed_fields == ()
        assert outcome.changed_slots == ()
        assert len(queries.captured_queries) == 2  # the agent with its capacity rows; UPDATE
        assert len(writes) == 1
        assert writes[0].startswith('UPDATE "agents_app_agent" SET "last_heartbeat"')
        assert "local_images" not in writes[0]
        assert Agent.objects.get(pk="i-node1").last_heartbeat == T0 + timedelta(seconds=5)

    def test_changed_fields_are_the_only_ones_written(self, make_heartbeat: HeartbeatMaker) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)

        outcome = agent_heartbeat(info=make_heartbeat(version="0.2.0", images=[]), now=T0)

        assert outcome.changed_fields == ("local_images", "version")
        agent = Agent.objects.get(pk="i-node1")
        assert (agent.version, agent.local_images) == ("0.2.0", [])

    def test_capacity_upsert_leaves_used_alone(self, make_heartbeat: HeartbeatMaker) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)
        AgentResource.objects.filter(agent_id="i-node1", slot_name="cpu").update(used=2)
        more = [
            SlotCapacity(slot_name="cpu", slot_type=SlotType.COUNT, capacity=Decimal(8)),
            SlotCapacity(slot_name="mem", slot_type=SlotType.BYTES, capacity=Decimal(8 << 30)),
            SlotCapacity(slot_name="cuda.shares", slot_type=SlotType.COUNT, capacity=Decimal(2)),
        ]

        outcome = agent_heartbeat(info=make_heartbeat(slots=more), now=T0)

        cpu = AgentResource.objects.get(agent_id="i-node1", slot_name="cpu")
        assert outcome.changed_slots == ("cpu", "cuda.shares")
        assert (cpu.capacity, cpu.used) == (Decimal(8), Decimal(2))
        assert _capacity("i-node1")["cuda.shares"] == Decimal(2)

    def test_capacity_never_drops_below_what_is_reserved(
        self, make_heartbeat: HeartbeatMaker
    ) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)
        AgentResource.objects.filter(agent_id="i-node1", slot_name="cpu").update(used=3)
        fewer = [SlotCapacity(slot_name="cpu", slot_type=SlotType.COUNT, capacity=Decimal(1))]

        agent_heartbeat(info=make_heartbeat(slots=fewer), now=T0)

        assert _capacity("i-node1") == {"cpu": Decimal(3)}  # mem (unused) is gone

    def test_agent_moves_to_its_declared_resource_group(
        self, make_heartbeat: HeartbeatMaker
    ) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)

        agent_heartbeat(info=make_heartbeat(resource_group="gpu"), now=T0)

        assert Agent.objects.get(pk="i-node1").resource_group.name == "gpu"
        assert ResourceGroup.objects.filter(name="gpu").exists()


class TestAgentsMarkLost:
    def test_silent_agent_becomes_lost_after_the_timeout(
        self,
        make_heartbeat: HeartbeatMaker,
        recorded_events: list[tuple[str, Any]],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        with time_machine.travel(T0, tick=False):
            agent_heartbeat(info=make_heartbeat())
        with time_machine.travel(T0 + timedelta(seconds=29), tick=False):
            assert agents_mark_lost(timeout=30) == []

        with (
            time_machine.travel(T0 + timedelta(seconds=31), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            lost = agents_mark_lost(timeout=30)

        agent = Agent.objects.get(pk="i-node1")
        assert lost == ["i-node1"]
        assert agent.status == AgentStatus.LOST
        assert agent.lost_at == T0 + timedelta(seconds=31)
        assert [name for name, _ in recorded_events] == ["agent_lost"]

    def test_sweep_is_idempotent(self, make_heartbeat: HeartbeatMaker) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)
        agents_mark_lost(timeout=30, now=T0 + timedelta(minutes=1))

        again = agents_mark_lost(timeout=30, now=T0 + timedelta(minutes=2))

        assert again == []
        assert Agent.objects.get(pk="i-node1").lost_at == T0 + timedelta(minutes=1)

    def test_terminated_agents_are_not_swept(self) -> None:
        AgentFactory.create(id="i-gone", status=AgentStatus.TERMINATED, last_heartbeat=T0)

        assert agents_mark_lost(timeout=30, now=T0 + timedelta(hours=1)) == []

    def test_heartbeat_revives_a_lost_agent(self, make_heartbeat: HeartbeatMaker) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)
        agents_mark_lost(timeout=30, now=T0 + timedelta(minutes=1))

        outcome = agent_heartbeat(info=make_heartbeat(), now=T0 + timedelta(minutes=2))

        agent = Agent.objects.get(pk="i-node1")
        assert outcome.revived
        assert agent.status == AgentStatus.ALIVE
        assert agent.lost_at is None


class TestAgentMarkTerminated:
    def test_goodbye_from_the_current_boot_terminates(self) -> None:
        AgentFactory.create(id="i-bye", boot_id="boot-7")

        assert agent_mark_terminated(agent_id="i-bye", boot_id="boot-7")

        assert Agent.objects.get(pk="i-bye").status == AgentStatus.TERMINATED

    def test_goodbye_from_an_older_boot_is_ignored(self) -> None:
        AgentFactory.create(id="i-bye", boot_id="boot-8")

        assert not agent_mark_terminated(agent_id="i-bye", boot_id="boot-7")

        assert Agent.objects.get(pk="i-bye").status == AgentStatus.ALIVE


class TestAgentsSetSchedulable:
    def test_drain_and_undrain(self) -> None:
        agent = AgentFactory.create()

        assert agents_set_schedulable(agent_ids=[agent.pk], schedulable=False) == 1
        assert agents_set_schedulable(agent_ids=[agent.pk], schedulable=False) == 0
        agent.refresh_from_db()
        assert not agent.schedulable


class TestAgentResourceConstraints:
    def test_used_cannot_exceed_capacity(self) -> None:
        row = AgentResourceFactory.create(capacity=Decimal(4), used=Decimal(4))

        with pytest.raises(IntegrityError), transaction.atomic():
            AgentResource.objects.filter(pk=row.pk).update(used=Decimal("4.5"))

    def test_used_cannot_be_negative(self) -> None:
        row = AgentResourceFactory.create()

        with pytest.raises(IntegrityError), transaction.atomic():
            AgentResource.objects.filter(pk=row.pk).update(used=Decimal(-1))

    def test_one_row_per_agent_and_slot(self) -> None:
        row = AgentResourceFactory.create(slot_name="mem")

        with pytest.raises(IntegrityError), transaction.atomic():
            AgentResourceFactory.create(agent=row.agent, slot_name="mem")


class TestHeartbeatAfterGoodbye:
    def test_a_late_heartbeat_of_the_same_boot_does_not_revive(
        self, make_heartbeat: HeartbeatMaker
    ) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)
        agent_mark_terminated(agent_id="i-node1", boot_id="boot-1")

        outcome = agent_heartbeat(info=make_heartbeat(), now=T0 + timedelta(seconds=1))

        assert not outcome.revived
        assert Agent.objects.get(pk="i-node1").status == AgentStatus.TERMINATED

    def test_a_new_boot_revives_a_terminated_agent(self, make_heartbeat: HeartbeatMaker) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)
        agent_mark_terminated(agent_id="i-node1", boot_id="boot-1")

        outcome = agent_heartbeat(info=make_heartbeat(boot_id="boot-2"), now=T0)

        assert outcome.revived
        assert Agent.objects.get(pk="i-node1").status == AgentStatus.ALIVE


def _running_kernels_on(agent_id: str, count: int) -> list[str]:
    session_ids = [
        cast(Session, SessionFactory(status=SessionStatus.RUNNING)).pk for _ in range(count)
    ]
    kernels = Kernel.objects.filter(session_id__in=session_ids)
    kernels.update(agent_id=agent_id)
    return [str(pk) for pk in kernels.values_list("pk", flat=True)]


class TestAgentRecordHeartbeat:
    """The `events` heartbeat as the manager worker records it, kernel stats included."""

    @pytest.mark.parametrize("kernel_count", [1, 25])
    def test_query_count_does_not_grow_with_the_kernels(
        self, make_heartbeat: HeartbeatMaker, kernel_count: int
    ) -> None:
        agent_heartbeat(info=make_heartbeat(), now=T0)
        kernel_ids = _running_kernels_on("i-node1", kernel_count)

        def beat(cpu_seconds: float) -> AgentHeartbeat:
            stats = [KernelStat(kernel_id=kid, cpu_used_seconds=cpu_seconds) for kid in kernel_ids]
            return make_heartbeat(kernels=stats)

        agent_record_heartbeat(heartbeat=beat(1.0))
        with CaptureQueriesContext(connection) as queries:
            agent_record_heartbeat(heartbeat=beat(2.0))

        writes = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT")]
        # the agent row with its capacity rows, the kernels and their sessions; one UPDATE
        assert len(queries.captured_queries) == 3
        assert len(writes) == 1
        assert writes[0].startswith('UPDATE "agents_app_agent" SET "last_heartbeat"')
        assert all(get_redis().get(CPU_KEY.format(kid)) is not None for kid in kernel_ids)
