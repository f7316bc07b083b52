"""Plain data the planner works on: no ORM objects, amounts as integers scaled by 10^6."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from backendai_site.common.resource_slot import format_binary_size, is_bytes_slot

SCALE = 10**6
"""AgentResource keeps 6 decimal places, so scaled integers are exact."""

Slots = dict[str, int]


def slots_from_json(raw: Mapping[str, Any] | None) -> Slots:
    """Scaled integer amounts from stored JSON (`{"cpu": "1.5"}`); zero amounts dropped."""
    out: Slots = {}
    for name, value in (raw or {}).items():
        amount = int(Decimal(str(value)) * SCALE)
        if amount:
            out[name] = amount
    return out


def slots_to_json(slots: Mapping[str, int]) -> dict[str, str]:
    """Stored JSON form (exact decimal strings, sorted) from scaled integers."""
    return {name: amount_to_str(slots[name]) for name in sorted(slots)}


def amount_to_str(amount: int) -> str:
    value = Decimal(amount) / SCALE
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def amount_humanized(slot: str, amount: int) -> str:
    if is_bytes_slot(slot):
        return format_binary_size(Decimal(amount) / SCALE)
    return amount_to_str(amount)


def slots_add(into: Slots, other: Mapping[str, int], sign: int = 1) -> None:
    for name, amount in other.items():
        into[name] = into.get(name, 0) + sign * amount


@dataclass(slots=True)
class PendingKernel:
    id: UUID
    cluster_idx: int
    requested: Slots


@dataclass(slots=True)
class DependencyState:
    session_id: UUID
    status: str
    result: str


@dataclass(slots=True)
class PendingSession:
    id: UUID
    access_key: str
    user_id: UUID
    project_id: UUID
    domain_id: int
    priority: int
    created_at: datetime
    cluster_mode: str
    architecture: str
    kernels: list[PendingKernel]
    requested_total: Slots
    designated_agents: tuple[str, ...] = ()
    starts_at: datetime | None = None
    dependencies: list[DependencyState] = field(default_factory=list)
    previous_verdict: dict[str, Any] | None = None
    domain_name: str = ""

    @property
    def fair_share_leaf(self) -> FairShareLeaf:
        return (self.domain_name, self.project_id, self.user_id)


FairShareLeaf = tuple[str, UUID, UUID]
"""(domain name, project id, user id): a user inside a project inside a domain, as the usage
ledger attributes usage."""


@dataclass(slots=True)
class FairShareInputs:
    """What the fair-share sequencer needs beyond the sessions (loaded for FAIR_SHARE groups)."""

    half_life_seconds: float = 7 * 86400.0
    aging_seconds: float = 3600.0
    occupancy_seconds: float = 3600.0
    usage: dict[FairShareLeaf, dict[str, float]] = field(default_factory=dict)
    """Ledger slot-seconds of this group per leaf and slot, each interval already decayed."""
    domain_weights: dict[str, float] = field(default_factory=dict)
    project_weights: dict[UUID, float] = field(default_factory=dict)
    user_weights: dict[UUID, float] = field(default_factory=dict)
    """A user's weight in each of its projects (below `user_project_weights`)."""
    user_project_weights: dict[tuple[UUID, UUID], float] = field(default_factory=dict)
    """(project id, user id): a user's weight in one project."""
    default_weight: float = 1.0
    """The weight of a domain, project or user the dicts do not name."""
    resource_weights: dict[str, float] = field(default_factory=dict)
    """How much a slot's normalised usage counts (a slot not named counts 1)."""


@dataclass(slots=True)
class AgentState:
    id: str
    architecture: str
    capacity: Slots
    used: Slots

    def free(self, slot: str) -> int:
        return self.capacity.get(slot, 0) - self.used.get(slot, 0)


@dataclass(slots=True, frozen=True)
class SlotLimit:
    """A total-slots limit: listed slots are bounded; unlisted are 0 unless `unlimited_rest`."""

    slots: Mapping[str, int]
    unlimited_rest: bool = True

    def limit_for(self, slot: str) -> int | None:
        """None when unlimited."""
        if slot in self.slots:
            return self.slots[slot]
        return None if self.unlimited_rest else 0


@dataclass(slots=True, frozen=True)
class KeypairPolicy:
    name: str
    total: SlotLimit
    max_concurrent_sessions: int


@dataclass(slots=True)
class Snapshot:
    resource_group_id: int
    scheduler: str
    selection_strategy: str
    pending_timeout: float
    now: datetime
    sessions: list[PendingSession]
    agents: list[AgentState]
    keypair_policies: dict[str, KeypairPolicy] = field(default_factory=dict)
    user_limits: dict[UUID, SlotLimit] = field(default_factory=dict)
    project_limits: dict[UUID, SlotLimit] = field(default_factory=dict)
    domain_limits: dict[int, SlotLimit] = field(default_factory=dict)
    keypair_occupancy: dict[str, Slots] = field(default_factory=dict)
    project_occupancy: dict[UUID, Slots] = field(default_factory=dict)
    domain_occupancy: dict[int, Slots] = field(default_factory=dict)
    user_occupancy: dict[UUID, Slots] = field(default_factory=dict)  # every resource group
    user_group_occupancy: dict[UUID, Slots] = field(default_factory=dict)  # this group (DRF)
    leaf_group_occupancy: dict[FairShareLeaf, Slots] = field(default_factory=dict)  # this group
    fair_share: FairShareInputs | None = None  # FAIR_SHARE groups only
    keypair_concurrency: dict[str, int] = field(default_factory=dict)
    roundrobin_start: dict[str, int] = field(default_factory=dict)
    resource_group_name: str = ""  # metric labels; empty when the group is gone


@dataclass(slots=True)
class KernelPlacement:
    kernel_id: UUID
    agent_id: str
    slots: Slots


@dataclass(slots=True)
class Placement:
    session_id: UUID
    kernels: list[KernelPlacement]

    def total_by_agent(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for kernel in self.kernels:
            for slot, amount in kernel.slots.items():
                key = (kernel.agent_id, slot)
                out[key] = out.get(key, 0) + amount
        return out

    def total(self) -> Slots:
        out: Slots = {}
        for kernel in self.kernels:
            slots_add(out, kernel.slots)
        return out


@dataclass(slots=True)
class Check:
    """One failed check of a verdict (JSON via `as_json`)."""

    check: str
    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"check": self.check, **self.data}


@dataclass(slots=True)
class Verdict:
    code: str
    msg: str
    checks: list[Check] = field(default_factory=list)
    fair_share: dict[str, Any] | None = None
    """The fair-share sequencer's explanation (FAIR_SHARE groups only)."""

    def as_json(
        self, *, queue_position: int | None, queue_length: int | None, pass_at: datetime
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "verdict": self.code,
            "msg": self.msg,
            "checks": [check.as_json() for check in self.checks],
            "queue_position": queue_position,
            "queue_length": queue_length,
            "pass_at": pass_at.isoformat(),
        }
        if self.fair_share is not None:
            data["fair_share"] = self.fair_share
        return data


@dataclass(slots=True)
class Plan:
    placements: list[Placement] = field(default_factory=list)
    pending: list[tuple[PendingSession, Verdict]] = field(default_factory=list)
    """In queue order: the first is the next in line."""
    cancellations: list[tuple[PendingSession, Verdict, str]] = field(default_factory=list)
    """(session, verdict, reason)."""
    roundrobin_next: dict[str, int] = field(default_factory=dict)
    fair_share: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    """The fair-share explanation of each session the sequencer gave out (FAIR_SHARE only)."""
