"""Fair-share inputs shared by the sequencer and the `/fair-share/*` answers: the share weight
of a domain, project or user in one resource group, and the decayed ledger usage of groups
(docs/design/0008-usage-and-fair-share.md).

A weight row names its resource group or none (every group); a user's row may name the project
it applies in or none (every project). The most specific row wins: the group's own before the
every-group row, and for a user the project's own before the every-project row, the group
first. A row with a null weight, or no row, weighs the group's `fair_share_default_weight`."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Q

from agents_app.schemas import ResourceGroupOpts
from sessions_app.models import FairShareWeight, UsageInterval

MAX_HALF_LIVES = 60
"""Ages are capped at this many half-lives (a factor of about 1e-18): PostgreSQL raises an
underflow error rather than return 0 for a float8 power or product too small to represent."""

DomainKey = tuple[str, str]  # ("domain", name)
ProjectKey = tuple[str, UUID]  # ("project", id)
UserKey = tuple[str, UUID, UUID | None]  # ("user", user id, project id or None)
WeightKey = DomainKey | ProjectKey | UserKey


def domain_key(name: str) -> DomainKey:
    return ("domain", name)


def project_key(project_id: UUID) -> ProjectKey:
    return ("project", project_id)


def user_key(user_id: UUID, project_id: UUID | None) -> UserKey:
    return ("user", user_id, project_id)


@dataclass(frozen=True, slots=True)
class WeightRow:
    resource_group: str | None
    weight: Decimal | None
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class WeightTable:
    """Weight rows by (resource group name or None, target key)."""

    rows: dict[tuple[str | None, WeightKey], WeightRow] = field(default_factory=dict)

    def _candidates(self, group: str, key: WeightKey) -> Iterable[tuple[str | None, WeightKey]]:
        if len(key) == 3 and key[2] is not None:
            every_project: WeightKey = user_key(key[1], None)
            return ((group, key), (group, every_project), (None, key), (None, every_project))
        return ((group, key), (None, key))

    def row(self, group: str, key: WeightKey) -> WeightRow | None:
        """The row that applies to `key` in `group` (None: the group's default weight)."""
        for candidate in self._candidates(group, key):
            found = self.rows.get(candidate)
            if found is not None:
                return found
        return None

    def weight(self, group: str, key: WeightKey, default: Decimal) -> Decimal:
        found = self.row(group, key)
        return found.weight if found is not None and found.weight is not None else default


def weight_table_load(
    *,
    groups: Collection[str],
    domains: Collection[str] | None = None,
    projects: Collection[UUID] | None = None,
    users: Collection[UUID] | None = None,
) -> WeightTable:
    """Every weight row that may apply in `groups` (their own and the every-group rows), for
    the given targets (None: every target of that level). One query."""
    targets = Q(domain__isnull=False) if domains is None else Q(domain__name__in=domains)
    if projects is None:
        targets |= Q(project__isnull=False, user__isnull=True)
    else:
        targets |= Q(project_id__in=projects, user__isnull=True)
    targets |= Q(user__isnull=False) if users is None else Q(user_id__in=users)
    table = WeightTable()
    rows = FairShareWeight.objects.filter(
        Q(resource_group__name__in=groups) | Q(resource_group__isnull=True), targets
    ).values_list(
        "resource_group__name", "domain__name", "project_id", "user_id", "weight",
        "created_at", "updated_at",
    )  # fmt: skip
    for group, domain_name, project_id, user_id, weight, created_at, updated_at in rows:
        key: WeightKey
        if domain_name is not None:
            key = domain_key(domain_name)
        elif user_id is not None:
            key = user_key(user_id, project_id)
        else:
            key = project_key(project_id)
        table.rows[(group, key)] = WeightRow(group, weight, created_at, updated_at)
    return table


# --- decayed usage -----------------------------------------------------------------------------

UsageLeaf = tuple[str, str, UUID, UUID]
"""(resource group, domain name, project id, user id)."""

# Each interval decays by 0.5 ** (age of its midpoint / half-life); corrections carry signed
# slot-seconds and decay like the rows they correct. The (resource_group, started_at) index
# bounds the scan to each group's lookback.
_USAGE_SQL = """
SELECT u.resource_group, u.domain_name, u.project_id, u.user_id, e.key,
       SUM(e.value::float8 * power(0.5::float8, LEAST(GREATEST(
           EXTRACT(EPOCH FROM (%(now)s - (u.started_at + (u.ended_at - u.started_at) / 2)))::float8,
           0) / g.half_life, %(max_half_lives)s)))
FROM {ledger} AS u
JOIN unnest(%(groups)s::text[], %(half_lives)s::float8[], %(sinces)s::timestamptz[])
     AS g(name, half_life, since) ON u.resource_group = g.name
CROSS JOIN LATERAL jsonb_each_text(u.slot_seconds) AS e(key, value)
WHERE u.started_at >= g.since AND u.started_at < %(now)s {narrow}
GROUP BY 1, 2, 3, 4, 5
"""


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    opts: ResourceGroupOpts

    @property
    def half_life_seconds(self) -> float:
        return self.opts.fair_share_half_life_days * 86400.0

    def lookback_start(self, now: datetime) -> datetime:
        return now - timedelta(days=self.opts.fair_share_lookback_days)


def decayed_usage(
    *, groups: Sequence[GroupSpec], now: datetime, domain_name: str | None = None
) -> dict[UsageLeaf, dict[str, float]]:
    """Decayed ledger slot-seconds of `groups` (each with its own half-life and lookback) per
    (group, domain, project, user) and slot, narrowed to one domain when given. One query."""
    if not groups:
        return {}
    params: dict[str, Any] = {
        "now": now,
        "max_half_lives": float(MAX_HALF_LIVES),
        "groups": [group.name for group in groups],
        "half_lives": [group.half_life_seconds for group in groups],
        "sinces": [group.lookback_start(now) for group in groups],
    }
    narrow = ""
    if domain_name is not None:
        narrow = "AND u.domain_name = %(domain_name)s"
        params["domain_name"] = domain_name
    usage: dict[UsageLeaf, dict[str, float]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _USAGE_SQL.format(ledger=UsageInterval._meta.db_table, narrow=narrow), params
        )
        for group, domain, project_id, user_id, slot, amount in cursor.fetchall():
            usage.setdefault((group, domain, project_id, user_id), {})[slot] = float(amount or 0)
    return usage
