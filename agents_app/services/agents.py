"""Writes about agents: registration, heartbeats, capacity rows, the LOST sweep, draining.

Heartbeats arrive every few seconds from every agent, so they write as little as possible: one
read of the agent row together with its capacity rows, and one UPDATE of only the columns that
changed (`last_heartbeat` always). Capacity is upserted without ever touching `used`, which belongs
to the scheduler's conditional reservations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, TextField, Value
from django.db.models.functions import Cast, Greatest, JSONObject
from django.utils import timezone

from agents_app import events
from agents_app.enums import AgentStatus
from agents_app.models import Agent, AgentResource, ResourceGroup
from agents_app.schemas import AgentHeartbeat, AgentInfo, AgentLost, AgentStarted, KernelStats
from agents_app.services.images import images_rescan_from_agents

log = logging.getLogger(__name__)

# Columns the agent itself reports; written only when they differ from the stored row.
_REPORTED_FIELDS = (
    "boot_id",
    "advertised_host",
    "architecture",
    "version",
    "compute_plugins",
    "local_images",
)


@dataclass(frozen=True, slots=True)
class HeartbeatOutcome:
    agent_id: str
    created: bool
    revived: bool
    changed_fields: tuple[str, ...]
    changed_slots: tuple[str, ...]


def resource_group_for_agent(*, name: str) -> ResourceGroup:
    """The agent's declared resource group, created (active, public) when it does not exist yet."""
    group, created = ResourceGroup.objects.get_or_create(name=name)
    if created:
        log.warning("resource group created for an agent", extra={"resource_group": name})
    return group


def _reported_values(info: AgentInfo) -> dict[str, Any]:
    return {
        "boot_id": info.boot_id,
        "advertised_host": info.advertised_host,
        "architecture": info.architecture,
        "version": info.version,
        "compute_plugins": info.compute_plugins,
        "local_images": [image.model_dump(mode="json") for image in info.images],
    }


CapacityRows = dict[str, Mapping[str, Any]]
"""slot name -> {"slot_type": str, "capacity": Decimal}: an agent's stored capacity rows."""


def _agent_row(agent_id: str) -> dict[str, Any] | None:
    """The agent's reported columns, status, group name and capacity rows, in one query."""
    capacity_rows = ArraySubquery(
        AgentResource.objects.filter(agent_id=OuterRef("pk")).values(
            row=JSONObject(
                slot_name="slot_name",
                slot_type="slot_type",
                capacity=Cast("capacity", TextField()),  # text: exact, unlike a JSON number
            )
        )
    )
    return (
        Agent.objects.filter(pk=agent_id)
        .values("status", "resource_group__name", *_REPORTED_FIELDS)
        .annotate(capacity_rows=capacity_rows)
        .first()
    )


def _capacity_rows(row: dict[str, Any]) -> CapacityRows:
    return {
        item["slot_name"]: {"slot_type": item["slot_type"], "capacity": Decimal(item["capacity"])}
        for item in row["capacity_rows"] or ()
    }


def agent_heartbeat(*, info: AgentInfo, now: datetime | None = None) -> HeartbeatOutcome:
    """Record a registration or heartbeat: upsert the agent and its capacity; mark it ALIVE."""
    now = now or timezone.now()
    reported = _reported_values(info)
    row = _agent_row(info.agent_id)
    created = False
    revived = False
    changed: dict[str, Any] = {}
    if row is None:
        group = resource_group_for_agent(name=info.resource_group)
        try:
            with transaction.atomic():
                Agent.objects.create(
                    id=info.agent_id,
                    status=AgentStatus.ALIVE,
                    status_changed=now,
                    resource_group=group,
                    first_contact=now,
                    last_heartbeat=now,
                    **reported,
                )
            created = True
            changed = dict(reported)
        except IntegrityError:  # a concurrent registration won; fall through to an update
            row = _agent_row(info.agent_id)
    if (
        row is not None
        and row["status"] == AgentStatus.TERMINATED
        and row["boot_id"] == info.boot_id
    ):
        # a late heartbeat of a boot that said goodbye: it must not bring the agent back
        log.info("heartbeat after goodbye ignored", extra={"agent_id": info.agent_id})
        return HeartbeatOutcome(
            agent_id=info.agent_id,
            created=False,
            revived=False,
            changed_fields=(),
            changed_slots=(),
        )
    if row is not None:
        changed = {name: value for name, value in reported.items() if row[name] != value}
        if row["resource_group__name"] != info.resource_group:
            changed["resource_group"] = resource_group_for_agent(name=info.resource_group)
        if row["status"] != AgentStatus.ALIVE:
            revived = True
            changed.update(status=AgentStatus.ALIVE, status_changed=now, lost_at=None)
        Agent.objects.filter(pk=info.agent_id).update(last_heartbeat=now, **changed)
        if revived:
            log.info(
                "agent is alive again",
                extra={"agent_id": info.agent_id, "previous_status": row["status"]},
            )
    changed_slots = agent_capacity_upsert(
        agent_id=info.agent_id,
        capacity={slot.slot_name: (slot.slot_type, slot.capacity) for slot in info.slots},
        existing=_capacity_rows(row) if row is not None else {},
    )
    if created:
        log.info("agent registered", extra={"agent_id": info.agent_id})
    return HeartbeatOutcome(
        agent_id=info.agent_id,
        created=created,
        revived=revived,
        changed_fields=tuple(sorted(k for k in changed if k != "resource_group"))
        + (("resource_group",) if "resource_group" in changed else ()),
        changed_slots=changed_slots,
    )


def agent_capacity_upsert(
    *,
    agent_id: str,
    capacity: dict[str, tuple[str, Decimal]],
    existing: CapacityRows | None = None,
) -> tuple[str, ...]:
    """Make the agent's capacity rows match `capacity` (slot -> (type, amount)); `used` untouched.

    A capacity below what is already reserved is raised to the reservation (the DB forbids
    used > capacity), so nothing new fits until kernels end. Slots no longer reported keep a row
    only while something is reserved on them, with capacity equal to the reservation.
    """
    if existing is None:  # callers that already read the rows (a heartbeat) pass them
        existing = {
            row["slot_name"]: row
            for row in AgentResource.objects.filter(agent_id=agent_id).values(
                "slot_name", "slot_type", "capacity"
            )
        }
    changed: list[str] = []
    new_rows: list[AgentResource] = []
    for slot_name, (slot_type, amount) in capacity.items():
        current = existing.get(slot_name)
        if current is None:
            new_rows.append(
                AgentResource(
                    agent_id=agent_id, slot_name=slot_name, slot_type=slot_type, capacity=amount
                )
            )
            changed.append(slot_name)
        elif current["capacity"] != amount or current["slot_type"] != slot_type:
            AgentResource.objects.filter(agent_id=agent_id, slot_name=slot_name).update(
                slot_type=slot_type, capacity=Greatest(Value(amount), F("used"))
            )
            changed.append(slot_name)
    if new_rows:
        AgentResource.objects.bulk_create(new_rows, ignore_conflicts=True)
    gone = [name for name in existing if name not in capacity]
    if gone:
        rows = AgentResource.objects.filter(agent_id=agent_id, slot_name__in=gone)
        rows.filter(used=0).delete()
        rows.exclude(capacity=F("used")).update(capacity=F("used"))
        changed.extend(gone)
    if changed:
        log.info("agent capacity changed", extra={"agent_id": agent_id, "slots": sorted(changed)})
    return tuple(sorted(changed))


def agent_record_heartbeat(*, heartbeat: AgentHeartbeat) -> HeartbeatOutcome:
    """The `events` heartbeat: record it, then pass live kernel use to subscribers."""
    outcome = agent_heartbeat(info=heartbeat)
    if "local_images" in outcome.changed_fields:
        images_rescan_from_agents(agent_ids=[heartbeat.agent_id])
    if heartbeat.kernels:
        events.dispatch(
            "kernel_stats", KernelStats(agent_id=heartbeat.agent_id, kernels=heartbeat.kernels)
        )
    return outcome


def agent_record_started(*, started: AgentStarted) -> list[str]:
    """An agent (re)started: record it like a heartbeat, tell subscribers which kernels it found,
    and return the kernel ids the manager does not know (the agent is told to destroy them)."""
    agent_heartbeat(info=started)
    images_rescan_from_agents(agent_ids=[started.agent_id])  # the catalog knows what it can run
    events.dispatch("agent_started", started)
    unknown = events.unknown_kernel_ids(
        started.agent_id, [kernel.kernel_id for kernel in started.kernels]
    )
    if unknown:
        log.warning(
            "agent reported kernels the manager does not know",
            extra={"agent_id": started.agent_id, "kernel_ids": unknown},
        )
    return unknown


def agent_mark_terminated(*, agent_id: str, boot_id: str, now: datetime | None = None) -> bool:
    """A cleanly stopped daemon said goodbye; ignored if a newer boot already registered."""
    now = now or timezone.now()
    updated = (
        Agent.objects.filter(pk=agent_id, boot_id=boot_id)
        .exclude(status=AgentStatus.TERMINATED)
        .update(status=AgentStatus.TERMINATED, status_changed=now)
    )
    if updated:
        log.info("agent terminated", extra={"agent_id": agent_id})
    return bool(updated)


def agents_mark_lost(*, timeout: float, now: datetime | None = None) -> list[str]:
    """Mark LOST every watched agent silent for longer than `timeout` seconds. Idempotent."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=timeout)
    with transaction.atomic():
        lost_ids = list(
            Agent.objects.select_for_update(skip_locked=True)
            .filter(status__in=AgentStatus.watched_statuses(), last_heartbeat__lt=cutoff)
            .values_list("id", flat=True)
        )
        if lost_ids:
            Agent.objects.filter(pk__in=lost_ids).update(
                status=AgentStatus.LOST, status_changed=now, lost_at=now
            )

            def _notify() -> None:
                for agent_id in lost_ids:
                    log.warning("agent lost", extra={"agent_id": agent_id})
                    events.dispatch("agent_lost", AgentLost(agent_id=agent_id, lost_at=now))

            transaction.on_commit(_notify)
    return lost_ids


def agents_set_schedulable(*, agent_ids: list[str], schedulable: bool) -> int:
    """Drain (False) or undrain (True) agents; returns how many rows changed."""
    updated = (
        Agent.objects.filter(pk__in=agent_ids)
        .exclude(schedulable=schedulable)
        .update(schedulable=schedulable)
    )
    log.info(
        "agents drained" if not schedulable else "agents undrained",
        extra={"agent_ids": agent_ids, "updated": updated},
    )
    return updated
