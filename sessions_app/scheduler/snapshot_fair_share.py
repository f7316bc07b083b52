"""What a FAIR_SHARE pass reads beyond the common snapshot, in two queries whatever the queue:
the decayed ledger usage of the resource group per (domain, project, user), and the share
weights of every domain, project and user that has usage or a pending session
(docs/design/0008-usage-and-fair-share.md)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from django.db import connection
from django.db.models import Q

from agents_app.schemas import ResourceGroupOpts
from sessions_app.models import FairShareWeight, UsageInterval

from .types import FairShareInputs, FairShareLeaf, Snapshot

MAX_HALF_LIVES = 60
"""Ages are capped at this many half-lives (a factor of about 1e-18): PostgreSQL raises an
underflow error rather than return 0 for a float8 power or product too small to represent."""

# Each interval decays by 0.5 ** (age of its midpoint / half-life); corrections carry signed
# slot-seconds and decay like the rows they correct. The (resource_group, started_at) index
# bounds the scan to the lookback.
_USAGE_SQL = """
SELECT u.domain_name, u.project_id, u.user_id, e.key,
       SUM(e.value::float8 * power(0.5::float8, LEAST(GREATEST(
           EXTRACT(EPOCH FROM (%(now)s - (u.started_at + (u.ended_at - u.started_at) / 2)))::float8,
           0) / %(half_life)s, %(max_half_lives)s)))
FROM {ledger} AS u
CROSS JOIN LATERAL jsonb_each_text(u.slot_seconds) AS e(key, value)
WHERE u.resource_group = %(group)s AND u.started_at >= %(since)s AND u.started_at < %(now)s
GROUP BY 1, 2, 3, 4
"""


def fair_share_load(*, snapshot: Snapshot, opts: ResourceGroupOpts) -> FairShareInputs:
    half_life = opts.fair_share_half_life_days * 86400.0
    inputs = FairShareInputs(
        half_life_seconds=half_life,
        aging_seconds=opts.fair_share_aging_seconds,
        occupancy_seconds=opts.fair_share_occupancy_seconds,
    )
    since = snapshot.now - timedelta(days=opts.fair_share_lookback_days)
    with connection.cursor() as cursor:
        cursor.execute(
            _USAGE_SQL.format(ledger=UsageInterval._meta.db_table),
            {
                "now": snapshot.now,
                "half_life": half_life,
                "max_half_lives": float(MAX_HALF_LIVES),
                "group": snapshot.resource_group_name,
                "since": since,
            },
        )
        for domain_name, project_id, user_id, slot, amount in cursor.fetchall():
            leaf: FairShareLeaf = (domain_name, project_id, user_id)
            inputs.usage.setdefault(leaf, {})[slot] = float(amount or 0.0)

    leaves = set(inputs.usage) | set(snapshot.leaf_group_occupancy)
    leaves |= {session.fair_share_leaf for session in snapshot.sessions}
    domains = sorted({leaf[0] for leaf in leaves})
    projects: list[UUID] = sorted({leaf[1] for leaf in leaves})
    users: list[UUID] = sorted({leaf[2] for leaf in leaves})
    if not leaves:
        return inputs
    for domain_name, project_id, user_id, weight in FairShareWeight.objects.filter(
        Q(domain__name__in=domains) | Q(project_id__in=projects) | Q(user_id__in=users)
    ).values_list("domain__name", "project_id", "user_id", "weight"):
        if domain_name is not None:
            inputs.domain_weights[domain_name] = float(weight)
        elif project_id is not None:
            inputs.project_weights[project_id] = float(weight)
        elif user_id is not None:
            inputs.user_weights[user_id] = float(weight)
    return inputs
