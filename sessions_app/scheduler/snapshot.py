"""Load what one pass needs in a constant number of queries, as plain dataclasses."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Count

from agents_app.enums import AgentStatus, SchedulerKind
from agents_app.models import Agent, AgentResource, ResourceGroup
from agents_app.schemas import ResourceGroupOpts
from backendai_site.accounts.enums import DefaultForUnspecified
from backendai_site.accounts.models import Domain
from backendai_site.common.redis import get_redis
from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel, Session, SessionDependency

from .snapshot_fair_share import fair_share_load
from .types import (
    SCALE,
    AgentState,
    DependencyState,
    KeypairPolicy,
    PendingKernel,
    PendingSession,
    SlotLimit,
    Snapshot,
    slots_add,
    slots_from_json,
)

log = logging.getLogger(__name__)

OCCUPYING_STATUSES = tuple(sorted(SessionStatus.live() - {SessionStatus.PENDING}))


def roundrobin_key(resource_group_id: int) -> str:
    return f"bai:sched:rr:{resource_group_id}"


def limit_from_json(raw: Mapping[str, Any] | None, *, unlimited_rest: bool = True) -> SlotLimit:
    """A SlotLimit from stored JSON; infinite or negative values mean unlimited for that slot."""
    slots: dict[str, int] = {}
    unlimited_listed: set[str] = set()
    for name, value in (raw or {}).items():
        amount = Decimal(str(value))
        if not amount.is_finite() or amount < 0:
            unlimited_listed.add(name)
            continue
        slots[name] = int(amount * SCALE)
    if unlimited_listed and not unlimited_rest:
        # listed as unlimited under LIMITED-by-default: make them effectively unbounded
        for name in unlimited_listed:
            slots[name] = 10**40
    return SlotLimit(slots=slots, unlimited_rest=unlimited_rest)


def snapshot_load(*, resource_group_id: int, now: datetime) -> Snapshot:
    group = (
        ResourceGroup.objects.values("name", "scheduler", "scheduler_opts")
        .filter(pk=resource_group_id)
        .first()
    )
    if group is None:
        # A hint or beat pass can run before bootstrap created the group, or after an admin
        # deleted it: there is nothing to schedule, so the pass ends on an empty snapshot.
        log.info(
            "scheduler pass skipped: no such resource group",
            extra={"resource_group": resource_group_id, "reason": "resource-group-missing"},
        )
        return Snapshot(
            resource_group_id=resource_group_id,
            scheduler=SchedulerKind.FIFO,
            selection_strategy=str(ResourceGroupOpts().agent_selection_strategy),
            pending_timeout=ResourceGroupOpts().pending_timeout,
            now=now,
            sessions=[],
            agents=[],
        )
    opts = ResourceGroupOpts.model_validate(group["scheduler_opts"] or {})
    snapshot = Snapshot(
        resource_group_id=resource_group_id,
        resource_group_name=group["name"],
        scheduler=group["scheduler"],
        selection_strategy=str(opts.agent_selection_strategy),
        pending_timeout=opts.pending_timeout,
        now=now,
        sessions=[],
        agents=[],
    )
    rows = list(
        Session.objects.filter(resource_group_id=resource_group_id, status=SessionStatus.PENDING)
        .order_by()
        .values_list(
            "id",
            "access_key_id",
            "user_id",
            "project_id",
            "domain_id",
            "priority",
            "created_at",
            "cluster_mode",
            "architecture",
            "designated_agents",
            "starts_at",
            "status_data",
            "access_key__resource_policy__name",
            "access_key__resource_policy__total_resource_slots",
            "access_key__resource_policy__default_for_unspecified",
            "access_key__resource_policy__max_concurrent_sessions",
            "project__total_resource_slots",
            "domain__total_resource_slots",
            "user__resource_policy__total_resource_slots",
            "domain__name",
        )
    )
    if not rows:
        return snapshot
    sessions: dict[UUID, PendingSession] = {}
    for (
        sid, access_key, user_id, project_id, domain_id, priority, created_at, cluster_mode,
        architecture, designated, starts_at, status_data, policy_name, policy_slots,
        policy_default, policy_concurrency, project_slots, domain_slots, user_slots, domain_name,
    ) in rows:  # fmt: skip
        sessions[sid] = PendingSession(
            id=sid,
            access_key=access_key,
            user_id=user_id,
            project_id=project_id,
            domain_id=domain_id,
            priority=priority,
            created_at=created_at,
            cluster_mode=cluster_mode,
            architecture=architecture,
            kernels=[],
            requested_total={},
            designated_agents=tuple(str(a) for a in designated or ()),
            starts_at=starts_at,
            previous_verdict=(status_data or {}).get("scheduler"),
            domain_name=domain_name,
        )
        if access_key not in snapshot.keypair_policies and policy_name is not None:
            snapshot.keypair_policies[access_key] = KeypairPolicy(
                name=policy_name,
                total=limit_from_json(
                    policy_slots,
                    unlimited_rest=policy_default == DefaultForUnspecified.UNLIMITED,
                ),
                max_concurrent_sessions=policy_concurrency,
            )
        if user_slots and user_id not in snapshot.user_limits:
            snapshot.user_limits[user_id] = limit_from_json(user_slots)
        if project_slots and project_id not in snapshot.project_limits:
            snapshot.project_limits[project_id] = limit_from_json(project_slots)
        if domain_slots and domain_id not in snapshot.domain_limits:
            snapshot.domain_limits[domain_id] = limit_from_json(domain_slots)

    for kid, sid, idx, requested in (
        Kernel.objects.filter(
            session__resource_group_id=resource_group_id, session__status=SessionStatus.PENDING
        )
        .order_by()
        .values_list("id", "session_id", "cluster_idx", "requested_slots")
    ):
        pending = sessions.get(sid)
        if pending is None:  # enqueued between our two queries
            continue
        kernel = PendingKernel(id=kid, cluster_idx=idx, requested=slots_from_json(requested))
        pending.kernels.append(kernel)
        slots_add(pending.requested_total, kernel.requested)

    for sid, dep_id, dep_status, dep_result in (
        SessionDependency.objects.filter(
            session__resource_group_id=resource_group_id, session__status=SessionStatus.PENDING
        )
        .order_by()
        .values_list("session_id", "depends_on_id", "depends_on__status", "depends_on__result")
    ):
        if sid in sessions:
            sessions[sid].dependencies.append(DependencyState(dep_id, dep_status, dep_result))

    for pending in sessions.values():
        if not pending.kernels:
            log.warning(
                "pending session without kernels skipped",
                extra={"resource_group": resource_group_id, "session_id": str(pending.id)},
            )
            continue
        pending.kernels.sort(key=lambda k: k.cluster_idx)
        snapshot.sessions.append(pending)

    _load_agents(snapshot)
    _load_occupancy(snapshot)
    if snapshot.scheduler == SchedulerKind.FAIR_SHARE:
        snapshot.fair_share = fair_share_load(snapshot=snapshot, opts=opts)
    snapshot.roundrobin_start = _load_roundrobin(resource_group_id)
    return snapshot


def _load_agents(snapshot: Snapshot) -> None:
    alive = {
        "resource_group_id": snapshot.resource_group_id,
        "status__in": sorted(AgentStatus.available_statuses()),
        "schedulable": True,
    }
    agents = {
        agent_id: AgentState(id=agent_id, architecture=arch, capacity={}, used={})
        for agent_id, arch in Agent.objects.filter(**alive).values_list("id", "architecture")
    }
    for agent_id, slot_name, capacity, used in (
        AgentResource.objects.filter(**{f"agent__{k}": v for k, v in alive.items()})
        .order_by()
        .values_list("agent_id", "slot_name", "capacity", "used")
    ):
        agent = agents.get(agent_id)
        if agent is None:
            continue
        agent.capacity[slot_name] = int(capacity * SCALE)
        agent.used[slot_name] = int(used * SCALE)
    snapshot.agents = [agents[agent_id] for agent_id in sorted(agents)]


_OCCUPANCY_SQL = """
SELECT s.access_key, s.user_id, s.project_id, s.domain_id, s.resource_group_id, d.name,
       e.key, SUM(e.value::numeric)
FROM {kernel} AS k
JOIN {session} AS s ON s.id = k.session_id
JOIN {domain} AS d ON d.id = s.domain_id
CROSS JOIN LATERAL jsonb_each_text(k.occupied_slots) AS e(key, value)
WHERE k.holds_resources
  AND (s.access_key = ANY(%s) OR s.project_id = ANY(%s) OR s.domain_id = ANY(%s)
       OR s.user_id = ANY(%s) OR s.resource_group_id = %s)
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


def _load_occupancy(snapshot: Snapshot) -> None:
    access_keys = sorted({s.access_key for s in snapshot.sessions})
    projects = sorted({s.project_id for s in snapshot.sessions})
    domains = sorted({s.domain_id for s in snapshot.sessions})
    users = sorted({s.user_id for s in snapshot.sessions})
    sql = _OCCUPANCY_SQL.format(
        kernel=Kernel._meta.db_table, session=Session._meta.db_table, domain=Domain._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [access_keys, projects, domains, users, snapshot.resource_group_id])
        rows = cursor.fetchall()
    for access_key, user_id, project_id, domain_id, group_id, domain_name, slot, total in rows:
        amount = {slot: int(Decimal(total) * SCALE)}
        slots_add(snapshot.keypair_occupancy.setdefault(access_key, {}), amount)
        slots_add(snapshot.project_occupancy.setdefault(project_id, {}), amount)
        slots_add(snapshot.domain_occupancy.setdefault(domain_id, {}), amount)
        slots_add(snapshot.user_occupancy.setdefault(user_id, {}), amount)
        if group_id == snapshot.resource_group_id:
            slots_add(snapshot.user_group_occupancy.setdefault(user_id, {}), amount)
            leaf = (domain_name, project_id, user_id)
            slots_add(snapshot.leaf_group_occupancy.setdefault(leaf, {}), amount)
    snapshot.keypair_concurrency = {
        row["access_key_id"]: row["n"]
        for row in Session.objects.filter(
            access_key_id__in=access_keys, status__in=OCCUPYING_STATUSES
        )
        .order_by()
        .values("access_key_id")
        .annotate(n=Count("pk"))
    }


def _load_roundrobin(resource_group_id: int) -> dict[str, int]:
    try:
        raw: Mapping[bytes, bytes] = get_redis().hgetall(roundrobin_key(resource_group_id))  # type: ignore[assignment]
    except Exception:  # Redis is best-effort here: start from the first agent
        log.warning("round-robin state unavailable", extra={"resource_group": resource_group_id})
        return {}
    return {key.decode(): int(value) for key, value in raw.items()}


def roundrobin_save(resource_group_id: int, state: Mapping[str, int]) -> None:
    if not state:
        return
    try:
        get_redis().hset(roundrobin_key(resource_group_id), mapping=dict(state))  # type: ignore[arg-type]
    except Exception:
        log.warning("round-robin state not saved", extra={"resource_group": resource_group_id})
