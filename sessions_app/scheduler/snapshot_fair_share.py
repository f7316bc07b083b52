"""What a FAIR_SHARE pass reads beyond the common snapshot, in two queries whatever the queue:
the decayed ledger usage of the resource group per (domain, project, user), and the share
weights that apply in the group to every domain, project and user that has usage or a pending
session (docs/design/0008-usage-and-fair-share.md)."""

from __future__ import annotations

from uuid import UUID

from agents_app.schemas import ResourceGroupOpts
from sessions_app.selectors_fair_share_weights import (
    GroupSpec,
    decayed_usage,
    domain_key,
    project_key,
    user_key,
    weight_table_load,
)

from .types import FairShareInputs, FairShareLeaf, Snapshot


def fair_share_load(*, snapshot: Snapshot, opts: ResourceGroupOpts) -> FairShareInputs:
    group = GroupSpec(name=snapshot.resource_group_name, opts=opts)
    default = opts.fair_share_default_weight
    inputs = FairShareInputs(
        half_life_seconds=group.half_life_seconds,
        aging_seconds=opts.fair_share_aging_seconds,
        occupancy_seconds=opts.fair_share_occupancy_seconds,
        default_weight=float(default),
        resource_weights={slot: float(w) for slot, w in opts.fair_share_resource_weights.items()},
    )
    for (_, domain_name, project_id, user_id), slots in decayed_usage(
        groups=[group], now=snapshot.now
    ).items():
        leaf: FairShareLeaf = (domain_name, project_id, user_id)
        inputs.usage[leaf] = slots

    leaves = set(inputs.usage) | set(snapshot.leaf_group_occupancy)
    leaves |= {session.fair_share_leaf for session in snapshot.sessions}
    if not leaves:
        return inputs
    domains = {leaf[0] for leaf in leaves}
    projects: set[UUID] = {leaf[1] for leaf in leaves}
    users: set[UUID] = {leaf[2] for leaf in leaves}
    table = weight_table_load(groups=[group.name], domains=domains, projects=projects, users=users)
    name = group.name
    for domain_name in domains:
        inputs.domain_weights[domain_name] = float(
            table.weight(name, domain_key(domain_name), default)
        )
    for project_id in projects:
        inputs.project_weights[project_id] = float(
            table.weight(name, project_key(project_id), default)
        )
    for _, project_id, user_id in leaves:
        inputs.user_project_weights[(project_id, user_id)] = float(
            table.weight(name, user_key(user_id, project_id), default)
        )
    return inputs
