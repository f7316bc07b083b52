"""Warm pools: kernels created and started ahead of any session, claimed by the creates they
can serve (docs/design/0007-warm-pools.md).

Controllers mark, coordinators act: a claim only writes rows and queues `bind_kernel` after
commit; `warm_pools_refill` (one run at a time, woken by hints and beat) creates, replaces and
ends pooled kernels, and evicts them for sessions the scheduler left waiting for room (a pass
that leaves such sessions hints it).
Pooled kernels hold agent capacity through the same conditional updates as session kernels.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from agents_app.enums import AgentStatus
from agents_app.models import Agent
from agents_app.runtime.models import LABEL_POOL_ID
from agents_app.schemas import (
    AgentLost,
    BindKernel,
    CreateKernel,
    DestroyKernel,
    KernelCreationFailed,
    KernelStarted,
    KernelTerminated,
)
from agents_app.services.commands import agent_command_send
from backendai_site.common.resource_slot import ResourceSlot
from sessions_app.dispatch import MANAGER_QUEUE, WARM_POOLS_REFILL, task_send_on_commit
from sessions_app.enums import KernelStatus, PooledKernelStatus, SessionStatus, SessionType
from sessions_app.models import Kernel, PooledKernel, Session, WarmPool
from sessions_app.scheduler.allocation import agent_capacity_release, agent_capacity_reserve
from sessions_app.scheduler.hints import scheduler_hint
from sessions_app.scheduler.types import slots_from_json, slots_to_json
from sessions_app.scheduler.validators import VERDICT_INSUFFICIENT_CAPACITY
from sessions_app.schemas import SessionCreateRequest

from . import lifecycle
from .lifecycle import kernel_create_command
from .status import kernel_transition, session_transition

log = logging.getLogger(__name__)

REASON_MAX_AGE = "max-age"
REASON_EVICTED = "evicted-for-cold-request"
REASON_DISABLED = "pool-disabled"
REASON_SHRUNK = "pool-shrunk"
REASON_CLAIMED = "claimed-from-warm-pool"
_ST = PooledKernelStatus
_PK = PooledKernel._meta.db_table

# One statement: SKIP LOCKED lets concurrent claims take different kernels; the outer
# `status = READY` guard means no kernel is ever claimed twice.
_CLAIM_SQL = f"""
UPDATE {_PK} SET status = %s, session_id = %s, claimed_at = %s, holds_resources = false
WHERE id = (
    SELECT id FROM {_PK} WHERE pool_id = %s AND status = %s
    ORDER BY ready_at, id FOR UPDATE SKIP LOCKED LIMIT 1
) AND status = %s
RETURNING id
"""
_WP = WarmPool._meta.db_table
_EVICT_SQL = f"""
UPDATE {_PK} SET status = %s, status_info = %s
WHERE id IN (
    SELECT p.id FROM {_PK} AS p JOIN {_WP} AS w ON w.id = p.pool_id
    WHERE w.resource_group_id = %s AND p.status = %s
    ORDER BY p.ready_at, p.id FOR UPDATE OF p SKIP LOCKED LIMIT %s
)
RETURNING id, agent_id
"""


def warm_pools_refill_hint() -> None:
    """Ask for a refill run once the current transaction commits."""
    task_send_on_commit(WARM_POOLS_REFILL, args=[], queue=MANAGER_QUEUE)


def _send_after_commit(agent_id: str, command: str, payload: CreateKernel | BindKernel) -> None:
    transaction.on_commit(
        lambda: agent_command_send(agent_id=agent_id, command=command, payload=payload)
    )


def _destroy_after_commit(pooled: PooledKernel, reason: str) -> None:
    payload = DestroyKernel(kernel_id=str(pooled.pk), session_id="", reason=reason)
    agent_id = pooled.agent_id
    transaction.on_commit(
        lambda: agent_command_send(agent_id=agent_id, command="destroy_kernel", payload=payload)
    )


# --- which requests a pool serves --------------------------------------------------------------


def warm_pool_for_request(
    *, request: SessionCreateRequest, group_id: int, image_id: int, per_kernel: ResourceSlot
) -> WarmPool | None:
    """The enabled pool that serves `request`, or None: it starts cold. Options that change how
    the container is created (mounts, a bootstrap script, a startup command...) disqualify."""
    config = request.config
    if (
        request.cluster_size != 1
        or request.session_type == SessionType.BATCH
        or request.bootstrap_script
        or request.startup_command
        or request.starts_at
        or request.dependencies
        or config.agent_list
        or config.preopen_ports
        or config.mounts
        or config.mount_ids
        or config.mount_map
        or config.mount_id_map
    ):
        return None
    wanted = slots_from_json(per_kernel.to_json())
    for pool in WarmPool.objects.filter(
        resource_group_id=group_id, image_id=image_id, enabled=True
    ).order_by("id"):
        if slots_from_json(pool.slots) == wanted:
            return pool
    return None


# --- claim -----------------------------------------------------------------------------------


def pooled_kernel_claim(*, pool: WarmPool, session: Session, now: datetime) -> PooledKernel | None:
    """Take one READY kernel of `pool` for `session` (in the caller's transaction), or None."""
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [_ST.CLAIMED, session.pk, now, pool.pk, _ST.READY, _ST.READY])
        row = cursor.fetchone()
    if row is None:
        return None
    return PooledKernel.objects.get(pk=row[0])


def session_claim_warm(*, session: Session, pool: WarmPool, now: datetime) -> bool:
    """Serve the freshly written PENDING `session` from `pool` (inside its transaction): its
    kernel row becomes the pooled kernel, the capacity hold moves over, the session goes to
    PREPARING and the agent gets `bind_kernel` after commit. False (a miss) when none is ready."""
    pooled = pooled_kernel_claim(pool=pool, session=session, now=now)
    if pooled is None:
        WarmPool.objects.filter(pk=pool.pk).update(misses=F("misses") + 1)
        warm_pools_refill_hint()
        return False
    WarmPool.objects.filter(pk=pool.pk).update(hits=F("hits") + 1)
    fresh = session.kernels.get()
    fresh.delete()  # written a moment ago; nothing refers to it yet
    kernel = Kernel(
        id=pooled.pk,
        session=session,
        cluster_role=fresh.cluster_role,
        cluster_idx=fresh.cluster_idx,
        cluster_hostname=fresh.cluster_hostname,
        agent_id=pooled.agent_id,
        container_id=pooled.container_id,
        status=KernelStatus.PENDING,
        status_changed=now,
        requested_slots=fresh.requested_slots,
        occupied_slots=pooled.occupied_slots,
        holds_resources=True,
        service_ports=fresh.service_ports,
        host_ports=pooled.host_ports,
        runner_port=pooled.runner_port,
        runner_secret=pooled.runner_secret,
    )
    kernel.save(force_insert=True)
    kernel_transition(kernel=kernel, to=KernelStatus.SCHEDULED, reason=REASON_CLAIMED, now=now)
    kernel_transition(kernel=kernel, to=KernelStatus.PREPARING, reason=REASON_CLAIMED, now=now)
    session_transition(session=session, to=SessionStatus.SCHEDULED, reason=REASON_CLAIMED, now=now)
    session_transition(session=session, to=SessionStatus.PREPARING, reason=REASON_CLAIMED, now=now)
    environ = dict(kernel_create_command(session, kernel).environ)
    environ["BAI_SESSION_ID"] = str(session.pk)
    _send_after_commit(
        pooled.agent_id,
        "bind_kernel",
        BindKernel(kernel_id=str(kernel.pk), session_id=str(session.pk), environ=environ),
    )
    warm_pools_refill_hint()
    log.info(
        "session served from a warm pool",
        extra={"session_id": str(session.pk), "kernel_id": str(kernel.pk), "pool": pool.pk},
    )
    return True


# --- refill, replacement, eviction -----------------------------------------------------------


def _lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended('bai:warm-pools', 0))")
        row = cursor.fetchone()
    return bool(row and row[0])


def warm_pools_refill(*, now: datetime | None = None) -> dict[int, int]:
    """Bring every pool to its target: replace expired kernels, end those of disabled pools,
    create what is missing. Returns the kernels created per pool id ({} when another run holds
    the lock)."""
    now = now or timezone.now()
    created: dict[int, int] = {}
    with transaction.atomic():
        if not _lock():
            return created
        pools = list(WarmPool.objects.select_related("image", "resource_group").order_by("id"))
        for group_id in sorted({pool.resource_group_id for pool in pools}):
            _evict_for_cold_requests(group_id)
        for pool in pools:
            created[pool.pk] = _pool_refill(pool, now=now)
    return created


def _evict(kernels: Sequence[PooledKernel], *, reason: str) -> int:
    ids = [k.pk for k in kernels]
    if not ids:
        return 0
    moved = PooledKernel.objects.filter(pk__in=ids, status=_ST.READY).update(
        status=_ST.EVICTING, status_info=reason[:64]
    )
    for pooled in kernels:
        _destroy_after_commit(pooled, reason)
    log.info("pooled kernels evicted", extra={"count": moved, "reason": reason})
    return moved


def _pool_refill(pool: WarmPool, *, now: datetime) -> int:
    ready = PooledKernel.objects.filter(pool=pool, status=_ST.READY).order_by("ready_at", "id")
    if not pool.enabled or not pool.resource_group.is_active:
        _evict(list(ready), reason=REASON_DISABLED)
        return 0
    _evict(
        list(ready.filter(ready_at__lt=now - timedelta(seconds=pool.max_age_seconds))),
        reason=REASON_MAX_AGE,
    )
    live = PooledKernel.objects.filter(pool=pool, status__in=_ST.live()).count()
    if live > pool.target_size:
        _evict(list(ready[: live - pool.target_size]), reason=REASON_SHRUNK)
        return 0
    if live == pool.target_size or _cold_requests_waiting(pool.resource_group_id):
        return 0
    slots = slots_from_json(pool.slots)
    agents = list(
        Agent.objects.filter(
            resource_group_id=pool.resource_group_id, status=AgentStatus.ALIVE, schedulable=True
        ).order_by("id")
    )
    made = 0
    for index in range(pool.target_size - live):
        # spread the pool over the group's agents, each taking what fits
        order = agents[index % len(agents) :] + agents[: index % len(agents)] if agents else []
        agent = next((a for a in order if agent_capacity_reserve(agent_id=a.pk, slots=slots)), None)
        if agent is None:
            break
        pooled = PooledKernel.objects.create(
            pool=pool,
            agent=agent,
            occupied_slots=slots_to_json(slots),
            holds_resources=True,
            runner_secret=secrets.token_urlsafe(32),
        )
        _send_after_commit(agent.pk, "create_kernel", _create_command(pool, pooled))
        made += 1
    if made:
        log.info("warm pool refilling", extra={"pool": pool.pk, "kernels_created": made})
    return made


def _cold_requests_waiting(group_id: int) -> bool:
    """Sessions the scheduler could not place for lack of room come before the pool."""
    return Session.objects.filter(
        resource_group_id=group_id,
        status=SessionStatus.PENDING,
        status_data__scheduler__verdict=VERDICT_INSUFFICIENT_CAPACITY,
    ).exists()


def _create_command(pool: WarmPool, pooled: PooledKernel) -> CreateKernel:
    return CreateKernel(
        kernel_id=str(pooled.pk),
        image=pool.image.canonical,
        resources={slot: Decimal(value) for slot, value in pooled.occupied_slots.items()},
        kernel_secret=pooled.runner_secret,
        labels={LABEL_POOL_ID: str(pool.pk)},
    )


def warm_pools_evict_hint(*, resource_group_id: int, count: int) -> int:
    """The scheduler's pass left `count` sessions without room: wake the refill run, which
    evicts pooled kernels for them (no query here: the pass's query count stays bounded)."""
    warm_pools_refill_hint()
    return 0


def _evict_for_cold_requests(resource_group_id: int) -> int:
    """One eviction per session waiting for room, less those already under way."""
    waiting = Session.objects.filter(
        resource_group_id=resource_group_id,
        status=SessionStatus.PENDING,
        status_data__scheduler__verdict=VERDICT_INSUFFICIENT_CAPACITY,
    ).count()
    if not waiting:
        return 0
    under_way = PooledKernel.objects.filter(
        pool__resource_group_id=resource_group_id,
        status=_ST.EVICTING,
        status_info=REASON_EVICTED,
    ).count()
    return pooled_kernels_evict(resource_group_id=resource_group_id, count=waiting - under_way)


def pooled_kernels_evict(*, resource_group_id: int, count: int) -> int:
    """Make room for `count` cold requests the scheduler could not place: end that many READY
    pooled kernels of the group (oldest first). Capacity comes back with `kernel_terminated`."""
    if count <= 0:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _EVICT_SQL, [_ST.EVICTING, REASON_EVICTED, resource_group_id, _ST.READY, count]
        )
        victims = cursor.fetchall()
    for kernel_id, agent_id in victims:
        _destroy_after_commit(PooledKernel(pk=kernel_id, agent_id=agent_id), REASON_EVICTED)
    if victims:
        log.info(
            "pooled kernels evicted for cold requests",
            extra={"resource_group": resource_group_id, "count": len(victims)},
        )
    return len(victims)


# --- agent events --------------------------------------------------------------------------


def _pooled_for_event(kernel_id: str) -> PooledKernel | None:
    try:
        UUID(str(kernel_id))
    except ValueError:
        return None
    return (
        PooledKernel.objects.select_for_update().select_related("pool").filter(pk=kernel_id).first()
    )


@transaction.atomic
def on_kernel_started(event: KernelStarted) -> None:
    pooled = _pooled_for_event(event.kernel_id)
    if pooled is None or pooled.agent_id != event.agent_id or pooled.status != _ST.CREATING:
        return  # not a pool's, or claimed (the session's handler runs it), or being ended
    ports = {port.name: port.host_port for port in event.ports}
    elapsed_ms = max(0, int((event.at - pooled.created_at).total_seconds() * 1000))
    PooledKernel.objects.filter(pk=pooled.pk, status=_ST.CREATING).update(
        status=_ST.READY,
        ready_at=event.at,
        container_id=event.container_id,
        host_ports=ports,
        runner_port=ports.get("runner"),
    )
    WarmPool.objects.filter(pk=pooled.pool_id).update(
        refills=F("refills") + 1,
        refill_ms_total=F("refill_ms_total") + elapsed_ms,
        last_refill_ms=elapsed_ms,
    )
    log.info("pooled kernel ready", extra={"kernel_id": event.kernel_id, "ms": elapsed_ms})


def _pooled_end(pooled: PooledKernel, *, reason: str) -> None:
    if pooled.holds_resources:
        agent_capacity_release(
            agent_id=pooled.agent_id, slots=slots_from_json(pooled.occupied_slots)
        )
    PooledKernel.objects.filter(pk=pooled.pk).update(
        status=_ST.TERMINATED,
        status_info=reason[:64],
        holds_resources=False,
        ended_at=timezone.now(),
    )
    scheduler_hint(pooled.pool.resource_group_id)
    warm_pools_refill_hint()


@transaction.atomic
def on_kernel_terminated(event: KernelTerminated) -> None:
    pooled = _pooled_for_event(event.kernel_id)
    if pooled is None or pooled.agent_id != event.agent_id:
        return
    if pooled.status in (_ST.CLAIMED, _ST.TERMINATED):
        return  # a claimed kernel is the session's (its own handler runs)
    _pooled_end(pooled, reason=event.reason)


@transaction.atomic
def on_kernel_creation_failed(event: KernelCreationFailed) -> None:
    pooled = _pooled_for_event(event.kernel_id)
    if pooled is None or pooled.agent_id != event.agent_id or pooled.status != _ST.CREATING:
        return
    log.warning(
        "pooled kernel creation failed",
        extra={"kernel_id": event.kernel_id, "reason": event.reason},
    )
    _pooled_end(pooled, reason=event.reason)  # the agent released what it had allocated


@transaction.atomic
def on_agent_lost(event: AgentLost) -> None:
    for pooled in (
        PooledKernel.objects.select_for_update()
        .select_related("pool")
        .filter(agent_id=event.agent_id)
        .exclude(status__in=(_ST.CLAIMED, _ST.TERMINATED))
    ):
        _pooled_end(pooled, reason="agent-lost")


def live_pooled_kernel_ids(agent_id: str, kernel_ids: Sequence[str]) -> Collection[str]:
    """The ids among `kernel_ids` that are this agent's live pooled kernels (not orphans)."""
    valid = []
    for kid in kernel_ids:
        try:
            valid.append(UUID(kid))
        except ValueError:
            continue
    return {
        str(pk)
        for pk in PooledKernel.objects.filter(
            pk__in=valid, agent_id=agent_id, status__in=_ST.live()
        ).values_list("pk", flat=True)
    }


def unknown_kernels_outside_pools(agent_id: str, kernel_ids: Sequence[str]) -> Collection[str]:
    """Neither a session's kernel nor a live pooled kernel: the agent removes it."""
    pooled = live_pooled_kernel_ids(agent_id, kernel_ids)
    return [kid for kid in lifecycle.unknown_kernels(agent_id, kernel_ids) if kid not in pooled]
