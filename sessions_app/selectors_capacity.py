"""`POST /resource/check-presets`: what the caller may still start, and where.

Limits follow the scheduler's validators (scheduler/validators.py, snapshot.limit_from_json):
the keypair policy (slots left unlisted are unlimited when its `default_for_unspecified` is
UNLIMITED, zero otherwise), the user policy, the project and the domain (their unlisted slots
unlimited; a negative or infinite amount is unlimited). "Using" is what kernels holding
resources occupy. A preset is allocatable when it fits every remaining limit, the keypair may
run one more session, and one alive, schedulable agent of a usable resource group has the room.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q

from agents_app.enums import AgentStatus
from agents_app.models import AgentResource, ResourceGroup
from agents_app.selectors import (
    project_for_keypair,
    resource_group_usable_get,
    resource_groups_usable,
    resource_preset_row,
    resource_presets_for,
    resource_slot_types,
)
from backendai_site.accounts.enums import DefaultForUnspecified
from backendai_site.accounts.models import KeyPair
from backendai_site.common.resource_slot import is_bytes_slot
from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel, Session

INFINITY = Decimal("Infinity")
Slots = dict[str, Decimal]


def _amount(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        return INFINITY
    return INFINITY if not value.is_finite() or value < 0 else value


def _limits(raw: Mapping[str, Any] | None, known: Iterable[str], *, unlimited_rest: bool) -> Slots:
    listed = {name: _amount(value) for name, value in (raw or {}).items()}
    rest = INFINITY if unlimited_rest else Decimal(0)
    return {name: listed.get(name, rest) for name in known}


def _minus(limits: Slots, using: Slots) -> Slots:
    return {
        name: max(limit - using.get(name, Decimal(0)), Decimal(0)) for name, limit in limits.items()
    }


def _min(*slots: Slots) -> Slots:
    names = set().union(*slots)
    return {name: min(s.get(name, INFINITY) for s in slots) for name in names}


def _fits(need: Mapping[str, Decimal], room: Mapping[str, Decimal]) -> bool:
    return all(amount <= room.get(name, Decimal(0)) for name, amount in need.items() if amount > 0)


def slots_json(slots: Mapping[str, Decimal]) -> dict[str, str]:
    """Exact strings; unlimited is "Infinity" as in the reference's ResourceSlot JSON."""
    out: dict[str, str] = {}
    for name in sorted(slots):
        value = slots[name]
        if not value.is_finite():
            out[name] = "Infinity"
        elif is_bytes_slot(name):
            out[name] = str(int(value))
        else:
            out[name] = f"{value.normalize():f}"
    return out


@dataclass
class _Usage:
    keypair: Slots
    user: Slots
    project: Slots
    domain: Slots
    keypair_by_group: dict[int, Slots]


def _add(target: Slots, occupied: Mapping[str, Any]) -> None:
    for name, value in (occupied or {}).items():
        target[name] = target.get(name, Decimal(0)) + Decimal(str(value))


def _usage(*, keypair: KeyPair, project_id: Any) -> _Usage:
    user = keypair.user
    usage = _Usage({}, {}, {}, {}, {})
    rows = (
        Kernel.objects.filter(holds_resources=True)
        .filter(
            Q(session__access_key_id=keypair.pk)
            | Q(session__user_id=user.pk)
            | Q(session__project_id=project_id)
            | Q(session__domain_id=user.domain_id)
        )
        .order_by()
        .values_list(
            "occupied_slots",
            "session__access_key_id",
            "session__user_id",
            "session__project_id",
            "session__domain_id",
            "session__resource_group_id",
        )
    )
    for occupied, access_key, user_id, kernel_project_id, domain_id, group_id in rows:
        if access_key == keypair.pk:
            _add(usage.keypair, occupied)
            _add(usage.keypair_by_group.setdefault(group_id, {}), occupied)
        if user_id == user.pk:
            _add(usage.user, occupied)
        if kernel_project_id == project_id:
            _add(usage.project, occupied)
        if domain_id == user.domain_id:
            _add(usage.domain, occupied)
    return usage


def _agents_free(groups: list[ResourceGroup]) -> dict[int, list[Slots]]:
    """Per resource group, the free room of each alive, schedulable agent."""
    free: dict[str, Slots] = {}
    group_of: dict[str, int] = {}
    for agent_id, group_id, slot, capacity, used in (
        AgentResource.objects.filter(
            agent__resource_group__in=groups,
            agent__status__in=sorted(AgentStatus.available_statuses()),
            agent__schedulable=True,
        )
        .order_by()
        .values_list("agent_id", "agent__resource_group_id", "slot_name", "capacity", "used")
    ):
        free.setdefault(agent_id, {})[slot] = capacity - used
        group_of[agent_id] = group_id
    by_group: dict[int, list[Slots]] = {group.pk: [] for group in groups}
    for agent_id, room in sorted(free.items()):
        by_group[group_of[agent_id]].append(room)
    return by_group


def presets_check(
    *, keypair: KeyPair, group: str | None, scaling_group: str | None
) -> dict[str, Any]:
    """The check-presets answer (see the module docstring and docs/compat/rest-extras.md)."""
    user = keypair.user
    project = project_for_keypair(keypair=keypair, ref=group)
    if scaling_group:
        groups = [resource_group_usable_get(keypair=keypair, project=project, name=scaling_group)]
    else:
        groups = list(resource_groups_usable(keypair=keypair, project=project))
    known = list(resource_slot_types())
    policy = keypair.resource_policy
    keypair_limits = _limits(
        policy.total_resource_slots,
        known,
        unlimited_rest=policy.default_for_unspecified == DefaultForUnspecified.UNLIMITED,
    )
    user_limits = _limits(user.resource_policy.total_resource_slots, known, unlimited_rest=True)
    project_limits = _limits(project.total_resource_slots, known, unlimited_rest=True)
    domain_limits = _limits(user.domain.total_resource_slots, known, unlimited_rest=True)
    usage = _usage(keypair=keypair, project_id=project.pk)
    zero = {name: Decimal(0) for name in known}
    keypair_using = {**zero, **usage.keypair}
    user_using = {**zero, **usage.user}
    project_using = {**zero, **usage.project}
    domain_using = {**zero, **usage.domain}
    keypair_remaining = _minus(keypair_limits, keypair_using)
    user_remaining = _minus(user_limits, user_using)
    project_remaining = _minus(project_limits, project_using)
    domain_remaining = _minus(domain_limits, domain_using)
    allowed = _min(keypair_remaining, user_remaining, project_remaining, domain_remaining)
    running = Session.objects.filter(access_key=keypair).exclude(
        status__in=SessionStatus.dead() | {SessionStatus.PENDING}
    )
    may_start_another = running.count() < policy.max_concurrent_sessions

    agents_free = _agents_free(groups)
    per_group: dict[str, dict[str, dict[str, str]]] = {}
    total_remaining = dict(zero)
    for rg in groups:
        remaining = dict(zero)
        for room in agents_free[rg.pk]:
            for name, amount in room.items():
                remaining[name] = remaining.get(name, Decimal(0)) + amount
        for name, amount in remaining.items():
            total_remaining[name] = total_remaining.get(name, Decimal(0)) + amount
        per_group[rg.name] = {
            "using": slots_json({**zero, **usage.keypair_by_group.get(rg.pk, {})}),
            "remaining": slots_json(remaining),
        }

    presets = []
    for preset in resource_presets_for(groups=groups):
        need = dict(preset.slots)
        where = [preset.resource_group] if preset.resource_group else groups
        fits_agent = any(
            _fits(need, room)
            for rg in where
            if rg is not None
            for room in agents_free.get(rg.pk, [])
        )
        row = resource_preset_row(preset)
        row["allocatable"] = may_start_another and _fits(need, allowed) and fits_agent
        presets.append(row)

    return {
        "keypair_limits": slots_json(keypair_limits),
        "keypair_using": slots_json(keypair_using),
        "keypair_remaining": slots_json(keypair_remaining),
        "user_limits": slots_json(user_limits),
        "user_using": slots_json(user_using),
        "user_remaining": slots_json(user_remaining),
        "group_limits": slots_json(project_limits),
        "group_using": slots_json(project_using),
        "group_remaining": slots_json(project_remaining),
        "domain_limits": slots_json(domain_limits),
        "domain_using": slots_json(domain_using),
        "domain_remaining": slots_json(domain_remaining),
        "scaling_group_remaining": slots_json(total_remaining),
        "scaling_groups": per_group,
        "presets": presets,
    }
