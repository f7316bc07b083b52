"""The fair shares the official client's `fair-share domain|project|user|rg-* get|list` read:
per resource group, each domain, project (in its domain) and user (in a project) with its
weight, the group's spec, its decayed ledger usage, normalised usage and factor
(docs/compat/fair-share.md).

- Usage: the sequencer's decayed slot-seconds (`selectors_fair_share_weights.decayed_usage`).
- Normalised usage: per slot `usage / (capacity x lookback seconds)` of the group's alive
  agents, weighted by the group's resource weights (1 when not named) and averaged over the
  group's slots, so siblings compare in the order the sequencer ranks them.
- Factor: `2 ** (-normalised usage / weight)`, in (0, 1], 1 without usage (the reference's
  formula; the sequencer's verdicts show their rank-based factor, design note 0008).
- What a list holds: every target of a group with usage in its lookback, a weight row that
  applies in it, or (domains, projects) an association with the group. A get answers for any
  existing target, the default weight and no usage when it has neither.

Reads: superadmins (and global monitors) every domain, domain admins and monitors their own;
plain users are refused. Queries per call are constant whatever the number of rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from django.db.models import Q
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field

from agents_app.models import ResourceGroup, ResourceGroupForDomain, ResourceGroupForProject
from backendai_site.accounts.enums import STAFF_ROLES
from backendai_site.accounts.models import Domain, Project, ProjectMembership, User
from backendai_site.accounts.selectors import user_watched_domain_id
from backendai_site.common.api.query_filters import (
    StringFilter,
    UUIDFilter,
    string_filter_q,
    uuid_filter_q,
)
from backendai_site.common.errors import InvalidAPIParameters, NotFound, PermissionDenied

from .selectors_fair_share_weights import (
    GroupSpec,
    UsageLeaf,
    WeightKey,
    WeightRow,
    WeightTable,
    decayed_usage,
    domain_key,
    project_key,
    user_key,
    weight_table_load,
)
from .selectors_usage_buckets import group_capacities

_NAMESPACE = uuid.UUID("0b6c7f53-56f4-4f0e-8d2a-1f6d1b6e3a77")
_MIN_EXPONENT = Decimal(-60)
SECONDS_PER_DAY = 86_400.0


class Level(StrEnum):
    DOMAIN = "domain"
    PROJECT = "project"
    USER = "user"


class FairShareFilter(BaseModel):
    """Every filter key of the three levels (one that does not apply to a level is a 400)."""

    model_config = ConfigDict(extra="forbid")

    resource_group: StringFilter | None = None
    domain_name: StringFilter | None = None
    project_id: UUIDFilter | None = None
    user_uuid: UUIDFilter | None = None


class FairShareOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: Literal["fair_share_factor", "domain_name", "created_at"]
    direction: Literal["asc", "desc", "ASC", "DESC"] = "desc"


class FairShareSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: FairShareFilter | None = None
    order: list[FairShareOrder] | None = Field(default=None, max_length=4)
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**7)


@dataclass(frozen=True, slots=True)
class FairShareScope:
    """What an `/fair-share/rg/...` path pins (exact values, beside the body's filter)."""

    resource_group: str | None = None
    domain_name: str | None = None
    project_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class FairSharePage:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


# Key of one fair share: (group, domain name) | (group, project id) | (group, project, user)
ShareKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Target:
    domain_name: str
    created_at: datetime


# --- authorization and targets -----------------------------------------------------------------


def fair_share_read_domain(actor: User) -> str | None:
    """The one domain the actor may read fair shares of, None for every domain; plain users
    are refused (403)."""
    if actor.role not in STAFF_ROLES:
        raise PermissionDenied(f"a {actor.role} may not read fair shares")
    domain_id = user_watched_domain_id(user=actor)
    if domain_id is None:
        return None
    return Domain.objects.filter(pk=domain_id).values_list("name", flat=True).first() or ""


def _check_domain(watched: str | None, domain_name: str) -> None:
    if watched is not None and watched != domain_name:
        raise PermissionDenied("fair shares of another domain are not yours to read")


def group_spec_get(name: str) -> GroupSpec:
    group = ResourceGroup.objects.filter(name=name).only("name", "scheduler_opts").first()
    if group is None:
        raise NotFound(f"no resource group {name!r}")
    return GroupSpec(name=group.name, opts=group.opts)


def _groups(spec: StringFilter | None, exact: str | None) -> list[GroupSpec]:
    if exact is not None:
        return [group_spec_get(exact)]
    rows = ResourceGroup.objects.filter(string_filter_q("name", spec)).order_by("name")
    return [GroupSpec(name=g.name, opts=g.opts) for g in rows.only("name", "scheduler_opts")]


def domain_target(domain_name: str) -> _Target:
    row = Domain.objects.filter(name=domain_name).values("name", "created_at").first()
    if row is None:
        raise NotFound(f"no domain {domain_name!r}")
    return _Target(row["name"], row["created_at"])


def project_target(project_id: UUID, domain_name: str | None = None) -> _Target:
    row = Project.objects.filter(pk=project_id).values("domain__name", "created_at").first()
    if row is None or (domain_name is not None and row["domain__name"] != domain_name):
        where = f" in domain {domain_name!r}" if domain_name is not None else ""
        raise NotFound(f"no project {project_id}{where}")
    return _Target(row["domain__name"], row["created_at"])


def user_target(project_id: UUID, user_id: UUID, domain_name: str | None = None) -> _Target:
    project = project_target(project_id, domain_name)
    row = User.objects.filter(pk=user_id).values("created_at").first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    if not ProjectMembership.objects.filter(project_id=project_id, user_id=user_id).exists():
        raise NotFound(f"the user {user_id} is not a member of the project {project_id}")
    return _Target(project.domain_name, row["created_at"])


# --- numbers -----------------------------------------------------------------------------------


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _slot_entries(values: Mapping[str, Decimal]) -> dict[str, list[dict[str, str]]]:
    return {
        "entries": [
            {"resource_type": name, "quantity": _text(values[name])} for name in sorted(values)
        ]
    }


def _days(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def group_spec_dict(group: GroupSpec) -> dict[str, Any]:
    """The reference's `ResourceGroupFairShareSpecDTO` of a group."""
    opts = group.opts
    return {
        "half_life_days": _days(opts.fair_share_half_life_days),
        "lookback_days": _days(opts.fair_share_lookback_days),
        "decay_unit_days": opts.fair_share_decay_unit_days,
        "default_weight": _text(opts.fair_share_default_weight),
        "resource_weights": _slot_entries(opts.fair_share_resource_weights),
    }


def _normalised(
    usage: Mapping[str, float], capacity: Mapping[str, Decimal], group: GroupSpec
) -> Decimal:
    weights = group.opts.fair_share_resource_weights
    seconds = group.opts.fair_share_lookback_days * SECONDS_PER_DAY
    weighted = 0.0
    total_weight = 0.0
    for slot, amount in capacity.items():
        if amount <= 0:
            continue
        weight = float(weights.get(slot, 1))
        total_weight += weight
        weighted += weight * max(usage.get(slot, 0.0), 0.0) / (float(amount) * seconds)
    if total_weight <= 0:
        return Decimal(0)
    return Decimal(repr(weighted / total_weight)).quantize(Decimal("1e-12"))


def _factor(normalised: Decimal, weight: Decimal) -> Decimal:
    exponent = max(-normalised / weight, _MIN_EXPONENT)
    return (Decimal(2) ** exponent).quantize(Decimal("1e-9"))


# --- items -------------------------------------------------------------------------------------


def _weight_key(level: Level, key: ShareKey) -> WeightKey:
    match level:
        case Level.DOMAIN:
            return domain_key(key[1])
        case Level.PROJECT:
            return project_key(key[1])
    return user_key(key[2], key[1])


def _share_key(level: Level, leaf: UsageLeaf) -> ShareKey:
    group, domain_name, project_id, user_id = leaf
    match level:
        case Level.DOMAIN:
            return (group, domain_name)
        case Level.PROJECT:
            return (group, project_id)
    return (group, project_id, user_id)


def _level_usage(level: Level, usage: Mapping[UsageLeaf, dict[str, float]]) -> dict[ShareKey, dict]:
    out: dict[ShareKey, dict[str, float]] = {}
    for leaf, slots in usage.items():
        into = out.setdefault(_share_key(level, leaf), {})
        for slot, amount in slots.items():
            into[slot] = into.get(slot, 0.0) + amount
    return out


@dataclass(frozen=True, slots=True)
class _Item:
    body: dict[str, Any]
    factor: Decimal
    domain_name: str
    created_at: datetime
    identity: str


def _item(
    level: Level,
    key: ShareKey,
    *,
    group: GroupSpec,
    target: _Target,
    row: WeightRow | None,
    usage: Mapping[str, float],
    capacity: Mapping[str, Decimal],
    now: datetime,
) -> _Item:
    opts = group.opts
    stored = row.weight if row is not None else None
    weight = stored if stored is not None else opts.fair_share_default_weight
    normalised = _normalised(usage, capacity, group)
    factor = _factor(normalised, weight)
    identity = "/".join(str(part) for part in key)
    body: dict[str, Any] = {
        "id": str(uuid.uuid5(_NAMESPACE, f"{level}:{identity}")),
        "resource_group": group.name,
        "domain_name": target.domain_name,
        "spec": {
            "weight": _text(stored) if stored is not None else None,
            "half_life_days": _days(opts.fair_share_half_life_days),
            "lookback_days": _days(opts.fair_share_lookback_days),
            "decay_unit_days": opts.fair_share_decay_unit_days,
            "resource_weights": _slot_entries(opts.fair_share_resource_weights),
        },
        "calculation_snapshot": {
            "fair_share_factor": _text(factor),
            "total_decayed_usage": _slot_entries(
                {slot: Decimal(f"{max(v, 0.0):.6f}") for slot, v in usage.items()}
            ),
            "normalized_usage": _text(normalised),
            "lookback_start": group.lookback_start(now).date().isoformat(),
            "lookback_end": now.date().isoformat(),
            "last_calculated_at": now.isoformat(),
        },
        "created_at": (row.created_at if row is not None else target.created_at).isoformat(),
        "updated_at": (row.updated_at if row is not None else target.created_at).isoformat(),
    }
    if level != Level.DOMAIN:
        body["project_id"] = str(key[1])
    if level == Level.USER:
        body["user_uuid"] = str(key[2])
    created = row.created_at if row is not None else target.created_at
    return _Item(body, factor, target.domain_name, created, identity)


def _items(
    level: Level,
    keys: Iterable[ShareKey],
    targets: Mapping[Any, _Target],
    groups: Mapping[str, GroupSpec],
    usage: Mapping[UsageLeaf, dict[str, float]],
    table: WeightTable,
    now: datetime,
) -> list[_Item]:
    by_key = _level_usage(level, usage)
    capacity = group_capacities(set(groups))
    items = []
    for key in keys:
        target = targets.get(key[1] if level != Level.USER else (key[1], key[2]))
        if target is None:
            continue
        group = groups[key[0]]
        row = table.row(group.name, _weight_key(level, key))
        slots, group_capacity = by_key.get(key, {}), capacity.get(group.name, {})
        item = _item(
            level, key, group=group, target=target, row=row, usage=slots,
            capacity=group_capacity, now=now,
        )  # fmt: skip
        items.append(item)
    return items


def fair_share_get(
    *,
    actor: User,
    level: Level,
    group_name: str,
    domain_name: str | None = None,
    project_id: UUID | None = None,
    user_id: UUID | None = None,
) -> dict[str, Any]:
    """One fair share of an existing target (404 for an unknown group or target, or a project
    outside the given domain, or a user outside the project)."""
    watched = fair_share_read_domain(actor)
    group = group_spec_get(group_name)
    match level:
        case Level.DOMAIN:
            assert domain_name is not None
            target = domain_target(domain_name)
            key: ShareKey = (group.name, target.domain_name)
            lookup: Any = target.domain_name
        case Level.PROJECT:
            assert project_id is not None
            target = project_target(project_id, domain_name)
            key, lookup = (group.name, project_id), project_id
        case _:
            assert project_id is not None and user_id is not None
            target = user_target(project_id, user_id, domain_name)
            key, lookup = (group.name, project_id, user_id), (project_id, user_id)
    _check_domain(watched, target.domain_name)
    now = timezone.now()
    usage = {
        leaf: slots
        for leaf, slots in decayed_usage(
            groups=[group], now=now, domain_name=target.domain_name
        ).items()
        if _share_key(level, leaf) == key
    }
    table = weight_table_load(
        groups=[group.name],
        domains=[target.domain_name],
        projects=[project_id] if project_id else [],
        users=[user_id] if user_id else [],
    )
    items = _items(level, [key], {lookup: target}, {group.name: group}, usage, table, now)
    return items[0].body


# --- lists -------------------------------------------------------------------------------------


def _filter_check(level: Level, spec: FairShareFilter | None) -> None:
    if spec is None:
        return
    if spec.project_id is not None and level == Level.DOMAIN:
        raise InvalidAPIParameters("a domain fair share has no project_id to filter by")
    if spec.user_uuid is not None and level != Level.USER:
        raise InvalidAPIParameters(f"a {level} fair share has no user_uuid to filter by")


def _candidate_keys(
    level: Level,
    groups: Mapping[str, GroupSpec],
    usage: Mapping[UsageLeaf, dict[str, float]],
    table: WeightTable,
) -> set[ShareKey]:
    keys = {_share_key(level, leaf) for leaf in usage}
    names = list(groups)
    every_project_users: set[UUID] = set()
    for group, weight_key in table.rows:
        if weight_key[0] != level.value:
            continue
        in_groups = names if group is None else [group]
        match weight_key:
            case ("user", UUID() as user_id, None):
                every_project_users.add(user_id)
            case ("user", user_id, project_id):
                keys |= {(name, project_id, user_id) for name in in_groups}
            case (_, target):
                keys |= {(name, target) for name in in_groups}
    if level == Level.DOMAIN:
        links = ResourceGroupForDomain.objects.filter(resource_group__name__in=names)
        keys |= set(links.values_list("resource_group__name", "domain__name"))
    elif level == Level.PROJECT:
        links_p = ResourceGroupForProject.objects.filter(resource_group__name__in=names)
        keys |= set(links_p.values_list("resource_group__name", "project_id"))
    elif every_project_users:
        members = ProjectMembership.objects.filter(user_id__in=every_project_users)
        for project_id, member_id in members.values_list("project_id", "user_id"):
            keys |= {(name, project_id, member_id) for name in names}
    return keys


def _targets(
    level: Level, keys: set[ShareKey], spec: FairShareFilter, domain_name: str | None
) -> dict[Any, _Target]:
    """The targets of `keys` that exist and pass the filter (and the one domain, if given)."""
    if level == Level.DOMAIN:
        narrow = Q(name=domain_name) if domain_name is not None else Q()
        rows = Domain.objects.filter(
            narrow, string_filter_q("name", spec.domain_name), name__in={k[1] for k in keys}
        ).values_list("name", "created_at")
        return {name: _Target(name, created_at) for name, created_at in rows}
    narrow = Q(domain__name=domain_name) if domain_name is not None else Q()
    projects = Project.objects.filter(
        narrow, string_filter_q("domain__name", spec.domain_name),
        uuid_filter_q("pk", spec.project_id), pk__in={k[1] for k in keys},
    ).values_list("id", "domain__name", "created_at")  # fmt: skip
    if level == Level.PROJECT:
        return {pk: _Target(domain_name, created) for pk, domain_name, created in projects}
    domain_of = {pk: domain_name for pk, domain_name, _ in projects}
    users = dict(
        User.objects.filter(
            uuid_filter_q("pk", spec.user_uuid), pk__in={k[2] for k in keys}
        ).values_list("id", "created_at")
    )
    return {
        (k[1], k[2]): _Target(domain_of[k[1]], users[k[2]])
        for k in keys
        if k[1] in domain_of and k[2] in users
    }


def _sorted(items: list[_Item], orders: list[FairShareOrder] | None) -> list[_Item]:
    items.sort(key=lambda item: (item.body["resource_group"], item.identity))
    chosen = orders or [FairShareOrder(field="fair_share_factor", direction="desc")]
    for order in reversed(chosen):
        descending = order.direction.lower() == "desc"
        match order.field:
            case "fair_share_factor":
                items.sort(key=lambda item: item.factor, reverse=descending)
            case "domain_name":
                items.sort(key=lambda item: item.domain_name, reverse=descending)
            case _:
                items.sort(key=lambda item: item.created_at, reverse=descending)
    return items


def fair_shares_search(
    *, actor: User, level: Level, search: FairShareSearch, scope: FairShareScope | None = None
) -> FairSharePage:
    """One page of `level` fair shares the actor may read, in the body's filter and the path's
    scope (an unknown group, domain or project there is a 404)."""
    scope = scope or FairShareScope()
    watched = fair_share_read_domain(actor)
    spec = search.filter or FairShareFilter()
    _filter_check(level, spec)
    groups = {g.name: g for g in _groups(spec.resource_group, scope.resource_group)}
    if scope.domain_name is not None:
        domain_target(scope.domain_name)
        _check_domain(watched, scope.domain_name)
    if scope.project_id is not None:
        project_target(scope.project_id, scope.domain_name)
    narrow_domain = scope.domain_name if scope.domain_name is not None else watched
    now = timezone.now()
    usage = decayed_usage(groups=list(groups.values()), now=now, domain_name=narrow_domain)
    if scope.project_id is not None:
        usage = {leaf: slots for leaf, slots in usage.items() if leaf[2] == scope.project_id}
    table = weight_table_load(groups=list(groups))
    keys = _candidate_keys(level, groups, usage, table)
    if scope.project_id is not None and level == Level.USER:
        keys = {key for key in keys if key[1] == scope.project_id}
    targets = _targets(level, keys, spec, narrow_domain)
    items = _sorted(_items(level, keys, targets, groups, usage, table, now), search.order)
    page = items[search.offset : search.offset + search.limit]
    return FairSharePage([i.body for i in page], len(items), search.offset, search.limit)
