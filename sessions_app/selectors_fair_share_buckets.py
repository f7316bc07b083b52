"""`POST /fair-share/rg/{group}[/domains/{domain}[/projects/{project}]]/usage-buckets/.../search`:
the usage buckets of `selectors_usage_buckets` pinned to a resource group, a domain and a
project of the path (each must exist: 404), read under the same `usage_scope`."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Q

from backendai_site.accounts.models import User

from .selectors_fair_share import domain_target, group_spec_get, project_target
from .selectors_usage_buckets import BucketLevel, BucketPage, BucketSearch, buckets_search


def rg_buckets_search(
    *,
    actor: User,
    level: BucketLevel,
    search: BucketSearch,
    group_name: str,
    domain_name: str | None = None,
    project_id: UUID | None = None,
) -> BucketPage:
    pinned = Q(resource_group=group_spec_get(group_name).name)
    if domain_name is not None:
        pinned &= Q(domain_name=domain_target(domain_name).domain_name)
    if project_id is not None:
        project_target(project_id, domain_name)
        pinned &= Q(project_id=project_id)
    return buckets_search(actor=actor, level=level, search=search, pinned=pinned)
