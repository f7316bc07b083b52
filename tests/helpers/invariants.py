"""The platform's bookkeeping invariants, checked against the database and the Docker engine.

After any fault has healed, for every agent checked:
- each slot's `used` equals the sum of `occupied_slots` over the kernels that hold resources there;
- no kernel in a dead status (TERMINATED, CANCELLED, ERROR) still holds resources;
- every container the agent labelled as its own belongs to a kernel row that is not dead;
- every RUNNING kernel on an ALIVE agent has its container.

`invariant_violations` returns human-readable lines (empty when all hold); `wait_for_invariants`
polls until they hold, for the coordinators that heal a fault asynchronously.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from agents_app.enums import AgentStatus
from agents_app.models import Agent, AgentResource
from sessions_app.enums import KernelStatus
from sessions_app.models import Kernel

LABEL_AGENT_ID = "ai.backend.agent-id"
LABEL_KERNEL_ID = "ai.backend.kernel-id"


def agent_containers(agent_id: str, *, docker_host: str | None = None) -> dict[str, str]:
    """Container id -> kernel id of every container (running or not) labelled for `agent_id`."""
    env = {**os.environ, **({"DOCKER_HOST": docker_host} if docker_host else {})}
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={LABEL_AGENT_ID}={agent_id}"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.split()  # fmt: skip
    if not ids:
        return {}
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{json .Config.Labels}}", *ids],
        capture_output=True, text=True, check=False, env=env,
    ).stdout.splitlines()  # fmt: skip
    # a container removed between `ps` and `inspect` simply drops out of the answer
    return {
        container_id: json.loads(labels or "{}").get(LABEL_KERNEL_ID, "")
        for container_id, labels in zip(ids, inspected, strict=False)
    }


def capacity_violations(agent: Agent) -> list[str]:
    held: dict[str, Decimal] = defaultdict(Decimal)
    for kernel in Kernel.objects.filter(agent=agent, holds_resources=True):
        for slot, amount in (kernel.occupied_slots or {}).items():
            held[slot] += Decimal(str(amount))
    problems = []
    for resource in AgentResource.objects.filter(agent=agent):
        expected = held.pop(resource.slot_name, Decimal(0))
        if resource.used != expected:
            problems.append(
                f"{agent.id}:{resource.slot_name} used={resource.used}"
                f" but live kernels hold {expected}"
            )
    for slot, amount in held.items():
        if amount:
            problems.append(f"{agent.id}:{slot} kernels hold {amount} of a slot the agent lacks")
    dead = Kernel.objects.filter(
        agent=agent, holds_resources=True, status__in=KernelStatus.dead()
    ).values_list("id", "status")
    problems += [f"kernel {kid} is {status} but still holds resources" for kid, status in dead]
    return problems


def container_violations(agent: Agent, docker_host: str | None) -> list[str]:
    containers = agent_containers(agent.id, docker_host=docker_host)
    live_kernels = {
        str(kid)
        for kid in Kernel.objects.filter(agent=agent)
        .exclude(status__in=KernelStatus.dead())
        .values_list("id", flat=True)
    }
    problems = [
        f"container {cid[:12]} on {agent.id} has no live kernel row (kernel {kid or '?'})"
        for cid, kid in containers.items()
        if kid not in live_kernels
    ]
    if agent.status == AgentStatus.ALIVE:
        with_container = set(containers.values())
        running = Kernel.objects.filter(agent=agent, status=KernelStatus.RUNNING).values_list(
            "id", flat=True
        )
        problems += [
            f"RUNNING kernel {kid} on {agent.id} has no container"
            for kid in running
            if str(kid) not in with_container
        ]
    return problems


def invariant_violations(
    agent_ids: Iterable[str] | None = None, *, docker_host: str | None = None
) -> list[str]:
    """Every broken invariant for the given agents (all agents when None)."""
    agents = Agent.objects.all()
    if agent_ids is not None:
        agents = agents.filter(id__in=list(agent_ids))
    problems: list[str] = []
    for agent in agents.order_by("id"):
        problems += capacity_violations(agent)
        problems += container_violations(agent, docker_host)
    return problems


def wait_for_invariants(
    agent_ids: Iterable[str] | None = None,
    *,
    timeout: float = 60.0,
    docker_host: str | None = None,
) -> None:
    """Poll until every invariant holds; fail with the last violations after `timeout`."""
    agent_ids = list(agent_ids) if agent_ids is not None else None
    deadline = time.monotonic() + timeout
    problems = invariant_violations(agent_ids, docker_host=docker_host)
    while problems and time.monotonic() < deadline:
        time.sleep(0.5)
        problems = invariant_violations(agent_ids, docker_host=docker_host)
    assert not problems, "invariants broken after healing:\n" + "\n".join(problems)
