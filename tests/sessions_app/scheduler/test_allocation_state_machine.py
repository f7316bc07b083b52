"""Allocation under random enqueues, destroys, agent losses and passes (including a pass whose
plan was made before another pass committed, i.e. two passes racing): after every step, for
every capacity row, used == what holding kernels occupy, and used <= capacity."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from agents_app.enums import AgentStatus
from agents_app.models import Agent
from sessions_app.enums import ClusterMode, KernelStatus, SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.scheduler.allocation import (
    kernel_release_resources,
    plan_commit,
)
from sessions_app.scheduler.planner import plan_pass
from sessions_app.scheduler.runner import schedule_resource_group
from sessions_app.scheduler.snapshot import snapshot_load
from sessions_app.services.status import kernel_transition, session_transition
from tests.factories.sessions import agent_with_capacity, key_pair_create
from tests.helpers.scheduler import allocation_violations, make_group, pending, same_owner

STRATEGIES = ["dispersed", "concentrated", "roundrobin"]


class AllocationMachine(RuleBasedStateMachine):
    @initialize(strategy=st.sampled_from(STRATEGIES), scheduler=st.sampled_from(["fifo", "drf"]))
    def world(self, strategy: str, scheduler: str) -> None:
        self.group = make_group(scheduler, agent_selection_strategy=strategy)
        self.agents = [agent_with_capacity(self.group, cpu=4, mem=8 * 1024**3) for _ in range(3)]
        self.agent_ids = [agent.id for agent in self.agents]
        first = pending(self.group, cpu="1")
        self.owners: list[dict[str, Any]] = [same_owner(first)]
        second_key = key_pair_create()
        self.owners.append(
            {"access_key": second_key, "user": second_key.user, "domain": second_key.user.domain}
        )

    @rule(
        cpu=st.integers(min_value=1, max_value=3),
        size=st.integers(min_value=1, max_value=3),
        multi=st.booleans(),
        owner=st.integers(min_value=0, max_value=1),
    )
    def enqueue(self, cpu: int, size: int, multi: bool, owner: int) -> None:
        pending(
            self.group,
            cpu=str(cpu),
            cluster_size=size,
            cluster_mode=ClusterMode.MULTI_NODE if multi else ClusterMode.SINGLE_NODE,
            **self.owners[owner],
        )

    @rule()
    def run_pass(self) -> None:
        schedule_resource_group(self.group.pk)

    @rule()
    def racing_passes(self) -> None:
        """Plan from a snapshot, let another pass commit first, then commit the stale plan."""
        now = timezone.now()
        stale = snapshot_load(resource_group_id=self.group.pk, now=now)
        stale_plan = plan_pass(stale)
        schedule_resource_group(self.group.pk)
        plan_commit(snapshot=stale, plan=stale_plan, now=now)

    def _holding_sessions(self) -> list[Session]:
        return list(
            Session.objects.filter(resource_group=self.group, kernels__holds_resources=True)
            .distinct()
            .order_by("created_at")
        )

    @precondition(lambda self: bool(self._holding_sessions()))
    @rule(data=st.data())
    def destroy(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(self._holding_sessions()))
        for kernel in session.kernels.all():
            if kernel.status not in KernelStatus.dead():
                kernel_transition(kernel=kernel, to=KernelStatus.TERMINATED, reason="destroyed")
            kernel_release_resources(kernel.pk)
        if session.status != SessionStatus.TERMINATING:
            session_transition(session=session, to=SessionStatus.TERMINATING, reason="user")
        session_transition(session=session, to=SessionStatus.TERMINATED, reason="user")

    @rule(index=st.integers(min_value=0, max_value=2))
    def lose_agent(self, index: int) -> None:
        agent_id = self.agent_ids[index]
        Agent.objects.filter(pk=agent_id).update(status=AgentStatus.LOST)
        holding = Kernel.objects.filter(agent_id=agent_id, holds_resources=True)
        for kernel_id in holding.values_list("pk", flat=True):
            kernel_release_resources(kernel_id)

    @rule(index=st.integers(min_value=0, max_value=2))
    def agent_comes_back(self, index: int) -> None:
        Agent.objects.filter(pk=self.agent_ids[index]).update(status=AgentStatus.ALIVE)

    @invariant()
    def capacity_matches_holdings(self) -> None:
        if not hasattr(self, "agent_ids"):
            return
        assert allocation_violations(self.agent_ids) == []
        lost = Agent.objects.filter(pk__in=self.agent_ids, status=AgentStatus.LOST)
        assert not Kernel.objects.filter(agent__in=lost, holds_resources=True).exists()


class TestAllocationStateMachine:
    def test_used_always_equals_live_allocations(self, db: None) -> None:
        run_state_machine_as_test(
            AllocationMachine,
            settings=settings(
                max_examples=25,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
