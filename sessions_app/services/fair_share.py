"""Writes behind `/fair-share/*` (the official client's `fair-share ... set-weight`,
`resource-group update-spec` and the SDK's bulk upserts): superadmins only, as in the reference
(a domain admin raising its own domain's share would be judge in its own cause).

A weight set through the API belongs to one resource group (and a user's to one project); a
null weight stores a row that weighs the group's default weight."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field

from agents_app.models import ResourceGroup
from agents_app.schemas import FairShareWeightValue, ResourceWeightValue
from agents_app.services.resource_groups import resource_group_get, resource_group_modify
from backendai_site.accounts.models import Domain, Project, ProjectMembership, User
from backendai_site.accounts.permissions import superadmin_require
from backendai_site.common.errors import InvalidAPIParameters, NotFound
from backendai_site.common.validation import Text256
from sessions_app.models import FairShareWeight
from sessions_app.selectors_fair_share import Level

SlotName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")]


class WeightBody(BaseModel):
    """`PUT .../weight`: `domain_name` is required for a project or a user (checked)."""

    model_config = ConfigDict(extra="forbid")

    domain_name: Text256 | None = None
    weight: FairShareWeightValue | None = None


class WeightEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain_name: Text256
    project_id: UUID | None = None
    user_uuid: UUID | None = None
    weight: FairShareWeightValue | None = None


class BulkWeightBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_group: Text256
    inputs: list[WeightEntry] = Field(max_length=1000)


class ResourceWeightEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_type: SlotName
    weight: ResourceWeightValue | None = None


class SpecBody(BaseModel):
    """`PATCH /fair-share/resource-groups/{name}/spec`: a partial update."""

    model_config = ConfigDict(extra="forbid")

    half_life_days: int | None = Field(default=None, ge=1, le=3650)
    lookback_days: int | None = Field(default=None, ge=1, le=3650)
    decay_unit_days: int | None = Field(default=None, ge=1, le=365)
    default_weight: FairShareWeightValue | None = None
    resource_weights: list[ResourceWeightEntry] | None = Field(default=None, max_length=64)


@dataclass(frozen=True, slots=True)
class WeightTarget:
    """What one weight row names; resolved and checked by `_targets_resolve`."""

    level: Level
    domain_name: str
    project_id: UUID | None = None
    user_id: UUID | None = None
    weight: Decimal | None = None


def _targets_resolve(targets: Sequence[WeightTarget]) -> dict[WeightTarget, dict[str, Any]]:
    """The row fields of each target: 404 for an unknown domain, project or user (or a user
    outside the project), 400 for a project outside the domain named. Three queries."""
    domains = dict(
        Domain.objects.filter(name__in={t.domain_name for t in targets}).values_list("name", "id")
    )
    project_ids = {t.project_id for t in targets if t.project_id is not None}
    project_domains = dict(
        Project.objects.filter(pk__in=project_ids).values_list("id", "domain__name")
    )
    pairs = {(t.project_id, t.user_id) for t in targets if t.user_id is not None}
    members = set(
        ProjectMembership.objects.filter(
            project_id__in={p for p, _ in pairs}, user_id__in={u for _, u in pairs}
        ).values_list("project_id", "user_id")
    )
    resolved: dict[WeightTarget, dict[str, Any]] = {}
    for target in targets:
        if target.domain_name not in domains:
            raise NotFound(f"no domain {target.domain_name!r}")
        fields: dict[str, Any] = {"domain_id": None, "project_id": None, "user_id": None}
        if target.level == Level.DOMAIN:
            fields["domain_id"] = domains[target.domain_name]
        else:
            assert target.project_id is not None
            if target.project_id not in project_domains:
                raise NotFound(f"no project {target.project_id}")
            if project_domains[target.project_id] != target.domain_name:
                raise InvalidAPIParameters(
                    f"the project {target.project_id} is not in the domain {target.domain_name}"
                )
            fields["project_id"] = target.project_id
        if target.level == Level.USER:
            if (target.project_id, target.user_id) not in members:
                raise NotFound(f"no user {target.user_id} in the project {target.project_id}")
            fields["user_id"] = target.user_id
        resolved[target] = fields
    return resolved


def _row_key(fields: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (fields["domain_id"], fields["project_id"], fields["user_id"])


def fair_share_weights_upsert(
    *, actor: User, group_name: str, targets: Sequence[WeightTarget]
) -> int:
    """Set the weight of each target in the group (creating its row or changing it); the
    number of rows written. Constant queries whatever the number of targets."""
    superadmin_require(actor, to="set fair-share weights")
    group = resource_group_get(group_name)
    if len({(t.level, t.domain_name, t.project_id, t.user_id) for t in targets}) < len(targets):
        raise InvalidAPIParameters("a target is named twice")
    resolved = _targets_resolve(targets)
    with transaction.atomic():
        match_any = Q(pk__isnull=True)
        for fields in resolved.values():
            match_any |= Q(**fields)
        existing = {
            (row.domain_id, row.project_id, row.user_id): row
            for row in FairShareWeight.objects.select_for_update().filter(
                match_any, resource_group=group
            )
        }
        changed: list[FairShareWeight] = []
        created: list[FairShareWeight] = []
        for target, fields in resolved.items():
            row = existing.get(_row_key(fields))
            if row is None:
                created.append(
                    FairShareWeight(resource_group=group, weight=target.weight, **fields)
                )
            else:
                row.weight, row.updated_at = target.weight, timezone.now()
                changed.append(row)
        FairShareWeight.objects.bulk_update(changed, ["weight", "updated_at"])
        FairShareWeight.objects.bulk_create(created)
    return len(resolved)


def fair_share_spec_update(*, actor: User, group_name: str, body: SpecBody) -> ResourceGroup:
    """Merge `body` into the group's fair-share options (validated by the group service)."""
    superadmin_require(actor, to="change fair-share specs")
    group = resource_group_get(group_name)
    opts = dict(group.scheduler_opts or {})
    for name, key in (
        ("half_life_days", "fair_share_half_life_days"),
        ("lookback_days", "fair_share_lookback_days"),
        ("decay_unit_days", "fair_share_decay_unit_days"),
        ("default_weight", "fair_share_default_weight"),
    ):
        value = getattr(body, name)
        if value is not None:
            opts[key] = str(value) if isinstance(value, Decimal) else value
    if body.resource_weights is not None:
        weights = dict(group.opts.fair_share_resource_weights)
        for entry in body.resource_weights:
            if entry.weight is None:
                weights.pop(entry.resource_type, None)
            else:
                weights[entry.resource_type] = entry.weight
        opts["fair_share_resource_weights"] = {k: str(v) for k, v in weights.items()}
    return resource_group_modify(actor=actor, name=group.name, changes={"scheduler_opts": opts})
