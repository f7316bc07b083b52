"""Helpers of the lifecycle and coordinator tests: agent capacity, agent events as an agent
would send them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agents_app.models import AgentResource
from agents_app.schemas import KernelStarted, PublishedPort
from sessions_app.models import Kernel
from tests.factories.world import ComputeWorld

Sent = list[tuple[str, str, Any]]
"""(agent id, command, payload) of every agent command a test's code sent."""


def used(world: ComputeWorld, slot: str) -> Decimal:
    return AgentResource.objects.get(agent=world.agent, slot_name=slot).used


def started_event(kernel: Kernel) -> KernelStarted:
    return KernelStarted(
        agent_id=str(kernel.agent_id),
        kernel_id=str(kernel.pk),
        session_id=str(kernel.session_id),
        container_id="c0ffee",
        host="127.0.0.1",
        ports=[
            PublishedPort(name="runner", protocol="tcp", container_port=2000, host_port=30001),
            PublishedPort(name="http", protocol="http", container_port=8080, host_port=30002),
        ],
    )
