"""Scheduler test scenarios: groups, pending and holding sessions, and what a pass left behind."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from agents_app.models import AgentResource, ResourceGroup
from sessions_app.models import Session
from tests.factories.agents import ResourceGroupFactory
from tests.factories.sessions import SessionFactory

GIB = 1024**3


def make_group(scheduler: str = "fifo", **opts: Any) -> ResourceGroup:
    group = cast(ResourceGroup, ResourceGroupFactory(scheduler=scheduler))
    if opts:
        group.scheduler_opts = {**group.scheduler_opts, **opts}
        group.save(update_fields=["scheduler_opts"])
    return group


def pending(group: ResourceGroup, *, cpu: str = "1", mem: int = GIB, **kwargs: Any) -> Session:
    """A PENDING session of `group` (fresh owner unless `access_key` etc. are given)."""
    kwargs.setdefault("requested_slots", {"cpu": cpu, "mem": str(mem)})
    return cast(Session, SessionFactory(resource_group=group, **kwargs))


def same_owner(session: Session) -> dict[str, Any]:
    return {
        "access_key": session.access_key,
        "user": session.user,
        "domain": session.domain,
        "project": session.project,
    }


def used(agent_id: str, slot: str = "cpu") -> Decimal:
    return AgentResource.objects.get(agent_id=agent_id, slot_name=slot).used


def verdict(session: Session) -> dict[str, Any]:
    session.refresh_from_db()
    result: dict[str, Any] = session.status_data.get("scheduler", {})
    return result


def holding_session(
    group: ResourceGroup, agent_id: str, *, cpu: str = "1", mem: int = GIB, **kwargs: Any
) -> Session:
    """A RUNNING session whose one kernel holds `cpu`/`mem` on `agent_id` (used is bumped)."""
    from sessions_app.enums import KernelStatus, SessionStatus

    slots = {"cpu": cpu, "mem": str(mem)}
    session = pending(group, cpu=cpu, mem=mem, status=SessionStatus.RUNNING, **kwargs)
    session.kernels.update(
        agent_id=agent_id, occupied_slots=slots, holds_resources=True, status=KernelStatus.RUNNING
    )
    for slot, amount in slots.items():
        row = AgentResource.objects.get(agent_id=agent_id, slot_name=slot)
        row.used += Decimal(amount)
        row.save(update_fields=["used"])
    return session


def statuses(*sessions: Session) -> list[str]:
    for session in sessions:
        session.refresh_from_db(fields=["status"])
    return [session.status for session in sessions]


def allocation_violations(agent_ids: list[str] | None = None) -> list[str]:
    """Every AgentResource row must equal what holding kernels occupy, and fit its capacity."""
    from sessions_app.models import Kernel

    kernels = Kernel.objects.filter(holds_resources=True)
    rows = AgentResource.objects.all()
    if agent_ids is not None:
        kernels = kernels.filter(agent_id__in=agent_ids)
        rows = rows.filter(agent_id__in=agent_ids)
    expected: dict[tuple[str, str], Decimal] = {}
    for agent_id, occupied in kernels.values_list("agent_id", "occupied_slots"):
        for slot, amount in occupied.items():
            key = (agent_id, slot)
            expected[key] = expected.get(key, Decimal(0)) + Decimal(amount)
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for agent_id, slot, capacity, used_now in rows.values_list(
        "agent_id", "slot_name", "capacity", "used"
    ):
        seen.add((agent_id, slot))
        want = expected.get((agent_id, slot), Decimal(0))
        if used_now != want:
            problems.append(f"{agent_id}:{slot} used {used_now} != held {want}")
        if used_now > capacity:
            problems.append(f"{agent_id}:{slot} used {used_now} > capacity {capacity}")
    problems += [
        f"{k} held without a capacity row" for k, v in expected.items() if k not in seen and v
    ]
    return problems
