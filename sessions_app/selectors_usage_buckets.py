"""The reference's fair-share usage buckets, answered from the usage ledger:
`POST /fair-share/usage-buckets/{domains,projects,users}/search` (the official client's
`resource-usage domain|project|user list`).

A bucket is one day (in the site's time zone) of one domain, project or user in one resource
group: the ledger's slot-seconds of that day summed (docs/compat/usage.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from django.db.models import Q, Sum
from pydantic import BaseModel, ConfigDict, Field

from agents_app.enums import AgentStatus
from agents_app.models import AgentResource
from backendai_site.accounts.models import User
from backendai_site.common.api.query_filters import (
    StringFilter,
    UUIDFilter,
    string_filter_q,
    uuid_filter_q,
)
from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.models import UsageInterval
from sessions_app.selectors_usage import UsageTotal, usage_scope, usage_totals

DAY_SECONDS = Decimal(86_400)
_BUCKET_NAMESPACE = uuid.UUID("6f1d2c1e-3c47-4b0e-9a0e-5d2f0e6b9b11")


class BucketLevel(StrEnum):
    DOMAIN = "domain"
    PROJECT = "project"
    USER = "user"


_GROUP_BY: dict[BucketLevel, tuple[str, ...]] = {
    BucketLevel.DOMAIN: ("resource_group", "domain_name", "day"),
    BucketLevel.PROJECT: ("resource_group", "domain_name", "project_id", "day"),
    BucketLevel.USER: ("resource_group", "domain_name", "project_id", "user_id", "day"),
}


class DateRangeFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: date | None = None
    before: date | None = None


class BucketFilter(BaseModel):
    """Every filter key of the three levels (a key that does not apply to a level is refused by
    `buckets_search`, never ignored)."""

    model_config = ConfigDict(extra="forbid")

    resource_group: StringFilter | None = None
    domain_name: StringFilter | None = None
    project_id: UUIDFilter | None = None
    user_uuid: UUIDFilter | None = None
    period_start: DateRangeFilter | None = None


class BucketOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: Literal["period_start"] = "period_start"
    direction: Literal["asc", "desc", "ASC", "DESC"] = "desc"


class BucketSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: BucketFilter | None = None
    order: list[BucketOrder] | None = Field(default=None, max_length=4)
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=10**7)


def _filter_q(level: BucketLevel, spec: BucketFilter | None) -> Q:
    if spec is None:
        return Q()
    if spec.project_id is not None and level == BucketLevel.DOMAIN:
        raise InvalidAPIParameters("a domain bucket has no project_id to filter by")
    if spec.user_uuid is not None and level != BucketLevel.USER:
        raise InvalidAPIParameters(f"a {level} bucket has no user_uuid to filter by")
    condition = string_filter_q("resource_group", spec.resource_group)
    condition &= string_filter_q("domain_name", spec.domain_name)
    condition &= uuid_filter_q("project_id", spec.project_id)
    condition &= uuid_filter_q("user_id", spec.user_uuid)
    if spec.period_start is not None:
        # rows are cut at hours, so a row's start date is its bucket's date
        if spec.period_start.after is not None:
            condition &= Q(started_at__date__gte=spec.period_start.after)
        if spec.period_start.before is not None:
            condition &= Q(started_at__date__lte=spec.period_start.before)
    return condition


def group_capacities(groups: set[str]) -> dict[str, dict[str, Decimal]]:
    rows = (
        AgentResource.objects.filter(
            agent__resource_group__name__in=groups, agent__status=AgentStatus.ALIVE
        )
        .values("agent__resource_group__name", "slot_name")
        .annotate(total=Sum("capacity"))
    )
    out: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        out.setdefault(row["agent__resource_group__name"], {})[row["slot_name"]] = row["total"]
    return out


def _slots(values: dict[str, Decimal]) -> dict[str, list[dict[str, str]]]:
    return {
        "entries": [
            {"resource_type": name, "quantity": format(values[name].normalize(), "f")}
            for name in sorted(values)
        ]
    }


@dataclass(frozen=True, slots=True)
class BucketPage:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


def _bucket(level: BucketLevel, total: UsageTotal, capacity: dict[str, Decimal]) -> dict:
    fields = dict(zip(_GROUP_BY[level], total.key, strict=True))
    day: date = fields["day"]
    usage = dict(total.slot_seconds)
    ratio = {
        name: (value / (capacity[name] * DAY_SECONDS)).quantize(Decimal("0.000001"))
        for name, value in usage.items()
        if capacity.get(name)
    }
    assert total.first_at is not None and total.last_at is not None
    identity = "/".join(str(fields[column]) for column in _GROUP_BY[level])
    item: dict[str, Any] = {
        "id": str(uuid.uuid5(_BUCKET_NAMESPACE, f"{level}:{identity}")),
        "domain_name": fields["domain_name"],
        "resource_group": fields["resource_group"],
        "metadata": {
            "period_start": day.isoformat(),
            "period_end": (day + timedelta(days=1)).isoformat(),
            "decay_unit_days": 1,
            "created_at": total.first_at.isoformat(),
            "updated_at": total.last_at.isoformat(),
            "average_daily_usage": _slots(usage),
            "usage_capacity_ratio": _slots(ratio),
        },
        "resource_usage": _slots(usage),
        "capacity_snapshot": _slots(capacity),
    }
    if level in (BucketLevel.PROJECT, BucketLevel.USER):
        item["project_id"] = str(fields["project_id"])
    if level == BucketLevel.USER:
        item["user_uuid"] = str(fields["user_id"])
    return item


def buckets_search(
    *, actor: User, level: BucketLevel, search: BucketSearch, pinned: Q | None = None
) -> BucketPage:
    """One page of `level` buckets the actor may read (`usage_scope`), newest first unless the
    order says otherwise, within `pinned` (ledger columns a path fixes). A filter key of another
    level is a 400."""
    rows = UsageInterval.objects.filter(
        usage_scope(actor), _filter_q(level, search.filter), pinned or Q()
    )
    totals = usage_totals(rows, by=_GROUP_BY[level])
    descending = not search.order or search.order[0].direction.lower() == "desc"
    totals.sort(key=lambda t: (t.key[-1], tuple(str(v) for v in t.key[:-1])), reverse=descending)
    page = totals[search.offset : search.offset + search.limit]
    capacity = group_capacities({str(t.key[0]) for t in page})
    return BucketPage(
        items=[_bucket(level, t, capacity.get(str(t.key[0]), {})) for t in page],
        total=len(totals),
        offset=search.offset,
        limit=search.limit,
    )
