"""The invariant checker the fault tests rely on must itself notice broken bookkeeping."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pytest

from agents_app.models import AgentResource, ResourceGroup
from sessions_app.enums import KernelStatus
from sessions_app.models import Kernel
from tests.factories.agents import ResourceGroupFactory
from tests.factories.sessions import SessionFactory, agent_with_capacity
from tests.helpers.invariants import capacity_violations

pytestmark = pytest.mark.django_db


def _group() -> ResourceGroup:
    return cast(ResourceGroup, ResourceGroupFactory())


def _hold(kernel: Kernel, agent_id: str, cpu: str, status: KernelStatus) -> None:
    Kernel.objects.filter(pk=kernel.pk).update(
        agent_id=agent_id, occupied_slots={"cpu": cpu}, holds_resources=True, status=status
    )


def test_matching_capacity_has_no_violation() -> None:
    agent = agent_with_capacity(_group())
    session = SessionFactory()
    _hold(session.kernels.get(), agent.id, "2", KernelStatus.RUNNING)
    AgentResource.objects.filter(agent=agent, slot_name="cpu").update(used=Decimal(2))
    assert capacity_violations(agent) == []


def test_used_without_holding_kernel_is_reported() -> None:
    agent = agent_with_capacity(_group())
    AgentResource.objects.filter(agent=agent, slot_name="cpu").update(used=Decimal(1))
    (problem,) = capacity_violations(agent)
    assert problem.startswith(f"{agent.id}:cpu used=1") and problem.endswith("live kernels hold 0")


def test_dead_kernel_still_holding_is_reported() -> None:
    agent = agent_with_capacity(_group())
    session = SessionFactory()
    kernel = session.kernels.get()
    _hold(kernel, agent.id, "1", KernelStatus.TERMINATED)
    AgentResource.objects.filter(agent=agent, slot_name="cpu").update(used=Decimal(1))
    assert capacity_violations(agent) == [
        f"kernel {kernel.id} is TERMINATED but still holds resources"
    ]
