"""Warm pools against real PostgreSQL: refill, claim (and two claims racing), eviction for a cold
request, max-age replacement (docs/design/0007-warm-pools.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from agents_app import events
from agents_app.runtime.models import LABEL_POOL_ID
from agents_app.schemas import (
    BindKernel,
    CreateKernel,
    KernelStarted,
    KernelTerminated,
    PublishedPort,
)
from sessions_app.enums import KernelStatus, PooledKernelStatus, SessionStatus
from sessions_app.models import Kernel, PooledKernel, Session, WarmPool
from sessions_app.scheduler.runner import schedule_resource_group
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services import warm_pools
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import GIB, ComputeWorld
from tests.helpers.lifecycle import Sent, used

pytestmark = pytest.mark.django_db
Capture = Callable[..., Any]


@pytest.fixture
def pool_commands(monkeypatch: pytest.MonkeyPatch, sent_commands: Sent) -> Sent:
    """Agent commands of the pool code and the lifecycle, recorded; refill hints dropped."""

    def record(*, agent_id: str, command: str, payload: Any) -> None:
        sent_commands.append((agent_id, command, payload))

    monkeypatch.setattr(warm_pools, "agent_command_send", record)
    monkeypatch.setattr(warm_pools, "task_send_on_commit", lambda *a, **k: None)
    return sent_commands


def _pool(world: ComputeWorld, *, target: int, cpu: str = "1", **fields: Any) -> WarmPool:
    return WarmPool.objects.create(
        resource_group=world.group,
        image=world.image,
        slots={"cpu": cpu, "mem": str(GIB)},
        target_size=target,
        **fields,
    )


def _started(pooled: PooledKernel, *, session_id: str = "", port: int = 30001) -> KernelStarted:
    return KernelStarted(
        agent_id=pooled.agent_id,
        kernel_id=str(pooled.pk),
        session_id=session_id,
        container_id=f"c-{pooled.pk.hex[:8]}",
        host="127.0.0.1",
        ports=[PublishedPort(name="runner", protocol="tcp", container_port=2000, host_port=port)],
    )


def _fill(world: ComputeWorld, pool: WarmPool, capture: Capture) -> list[PooledKernel]:
    """Refill, then report every created kernel started, as its agent would."""
    with capture(execute=True):
        warm_pools.warm_pools_refill()
    kernels = list(PooledKernel.objects.filter(pool=pool, status=PooledKernelStatus.CREATING))
    for index, pooled in enumerate(kernels):
        events.dispatch("kernel_started", _started(pooled, port=30001 + index))
    return list(PooledKernel.objects.filter(pool=pool).order_by("created_at"))


def _request(name: str, cpu: str = "1", **fields: Any) -> SessionCreateRequest:
    body: dict[str, Any] = {
        "image": "python",
        "name": name,
        "enqueueOnly": True,
        "config": {"resources": {"cpu": cpu, "mem": "1g"}},
    }
    body.update(fields)
    return SessionCreateRequest.model_validate(body)


class TestWarmPoolRefill:
    def test_creates_the_target_and_holds_its_capacity(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=2)

        with capture(execute=True):
            created = warm_pools.warm_pools_refill()

        assert created == {pool.pk: 2}
        pooled = list(PooledKernel.objects.filter(pool=pool))
        assert {p.status for p in pooled} == {PooledKernelStatus.CREATING}
        assert all(p.holds_resources for p in pooled)
        assert used(world, "cpu") == Decimal(2)
        creates = [p for _, c, p in pool_commands if c == "create_kernel"]
        assert len(creates) == 2
        assert all(isinstance(c, CreateKernel) and c.session_id == "" for c in creates)
        assert {c.labels[LABEL_POOL_ID] for c in creates} == {str(pool.pk)}
        assert {c.kernel_id for c in creates} == {str(p.pk) for p in pooled}

    def test_started_kernels_become_ready_and_the_refill_time_is_kept(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1)

        kernels = _fill(world, pool, capture)

        assert [k.status for k in kernels] == [PooledKernelStatus.READY]
        assert kernels[0].runner_port == 30001
        pool.refresh_from_db()
        assert pool.refills == 1 and pool.last_refill_ms is not None
        with capture(execute=True):  # already full: nothing more
            assert warm_pools.warm_pools_refill() == {pool.pk: 0}

    def test_a_failed_or_ended_kernel_gives_its_capacity_back_and_is_replaced(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1)
        (pooled,) = _fill(world, pool, capture)

        events.dispatch(
            "kernel_terminated",
            KernelTerminated(agent_id=pooled.agent_id, kernel_id=str(pooled.pk), reason="oom"),
        )

        pooled.refresh_from_db()
        assert pooled.status == PooledKernelStatus.TERMINATED and not pooled.holds_resources
        assert used(world, "cpu") == 0
        with capture(execute=True):
            assert warm_pools.warm_pools_refill() == {pool.pk: 1}
        assert used(world, "cpu") == Decimal(1)

    def test_kernels_past_max_age_are_replaced(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1, max_age_seconds=60)
        (old,) = _fill(world, pool, capture)
        PooledKernel.objects.filter(pk=old.pk).update(
            ready_at=timezone.now() - timedelta(seconds=61)
        )
        pool_commands.clear()

        with capture(execute=True):
            created = warm_pools.warm_pools_refill()

        old.refresh_from_db()
        assert old.status == PooledKernelStatus.EVICTING
        assert created == {pool.pk: 1}
        destroys = [p.kernel_id for _, c, p in pool_commands if c == "destroy_kernel"]
        assert destroys == [str(old.pk)]
        new = PooledKernel.objects.exclude(pk=old.pk).get(pool=pool)
        assert new.status == PooledKernelStatus.CREATING

    def test_a_disabled_pool_is_emptied(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1)
        (pooled,) = _fill(world, pool, capture)
        WarmPool.objects.filter(pk=pool.pk).update(enabled=False)

        with capture(execute=True):
            warm_pools.warm_pools_refill()

        pooled.refresh_from_db()
        assert pooled.status == PooledKernelStatus.EVICTING

    def test_agent_reconcile_keeps_live_pooled_kernels(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1)
        (pooled,) = _fill(world, pool, capture)

        unknown = events.unknown_kernel_ids(world.agent.pk, [str(pooled.pk), "stray"])

        assert list(unknown) == ["stray"]


class TestWarmClaim:
    def test_a_matching_create_claims_a_ready_kernel_and_runs_without_a_create(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1)
        (pooled,) = _fill(world, pool, capture)
        pool_commands.clear()

        with capture(execute=True):
            session = session_enqueue(
                requester=world.user.keypair,
                request=_request("warm1", config={"resources": {"cpu": "1", "mem": "1g"},
                                                  "environ": {"GREETING": "hi"}}),
            ).session  # fmt: skip

        session.refresh_from_db()
        assert session.status == SessionStatus.PREPARING
        kernel = session.kernels.get()
        assert kernel.pk == pooled.pk and kernel.agent_id == pooled.agent_id
        assert kernel.holds_resources and kernel.runner_secret == pooled.runner_secret
        pooled.refresh_from_db()
        assert pooled.status == PooledKernelStatus.CLAIMED and not pooled.holds_resources
        assert pooled.session_id == session.pk
        assert used(world, "cpu") == Decimal(1)  # the hold moved, nothing more was reserved
        assert [c for _, c, _ in pool_commands] == ["bind_kernel"]
        bind = pool_commands[0][2]
        assert isinstance(bind, BindKernel) and bind.session_id == str(session.pk)
        assert bind.environ["GREETING"] == "hi"
        assert bind.environ["BACKENDAI_SESSION_ID"] == str(session.pk)
        pool.refresh_from_db()
        assert (pool.hits, pool.misses) == (1, 0)

        events.dispatch("kernel_started", _started(pooled, session_id=str(session.pk)))

        session.refresh_from_db()
        kernel.refresh_from_db()
        assert session.status == SessionStatus.RUNNING
        assert kernel.status == KernelStatus.RUNNING and kernel.runner_port == 30001
        history = list(session.history.values_list("status", flat=True))
        assert history == ["PENDING", "SCHEDULED", "PREPARING", "RUNNING"]

    def test_an_empty_pool_is_a_miss_and_the_session_starts_cold(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1)  # never refilled

        session = session_enqueue(requester=world.user.keypair, request=_request("cold1")).session

        assert session.status == SessionStatus.PENDING
        assert session.kernels.get().agent_id is None
        pool.refresh_from_db()
        assert (pool.hits, pool.misses) == (0, 1)

    @pytest.mark.parametrize(
        "fields",
        [
            {"bootstrap_script": "echo hi"},
            {"type": "batch", "startupCommand": "true"},
            {"config": {"resources": {"cpu": "1", "mem": "1g"}, "preopen_ports": [8081]}},
        ],
    )
    def test_options_the_pool_cannot_serve_start_cold(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture, fields: dict[str, Any]
    ) -> None:
        pool = _pool(world, target=1)
        (pooled,) = _fill(world, pool, capture)

        session = session_enqueue(
            requester=world.user.keypair, request=_request("cold2", **fields)
        ).session

        assert session.status == SessionStatus.PENDING
        pooled.refresh_from_db()
        assert pooled.status == PooledKernelStatus.READY

    def test_another_shape_starts_cold(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1)
        _fill(world, pool, capture)

        session = session_enqueue(
            requester=world.user.keypair, request=_request("cold3", cpu="2")
        ).session

        assert session.status == SessionStatus.PENDING
        pool.refresh_from_db()
        assert (pool.hits, pool.misses) == (0, 0)


class TestWarmEviction:
    def test_a_cold_request_without_room_evicts_pooled_kernels_until_it_fits(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        _pool(world, target=4)  # the whole agent (4 CPUs)
        pool = WarmPool.objects.get()
        kernels = _fill(world, pool, capture)
        assert used(world, "cpu") == Decimal(4)
        session = session_enqueue(
            requester=world.user.keypair, request=_request("big-cold", cpu="2")
        ).session

        for _ in range(2):  # each round evicts one kernel for the one waiting session
            with capture(execute=True):
                schedule_resource_group(world.group.pk)
            pool_commands.clear()
            with capture(execute=True):  # evicts; cold requests first: no refill meanwhile
                assert warm_pools.warm_pools_refill() == {pool.pk: 0}
                assert warm_pools.warm_pools_refill() == {pool.pk: 0}  # nothing more
            destroys = [p for _, c, p in pool_commands if c == "destroy_kernel"]
            assert len(destroys) == 1
            events.dispatch(
                "kernel_terminated",
                KernelTerminated(
                    agent_id=world.agent.pk,
                    kernel_id=destroys[0].kernel_id,
                    reason=destroys[0].reason,
                ),
            )

        assert used(world, "cpu") == Decimal(2)
        with capture(execute=True):
            schedule_resource_group(world.group.pk)
        session.refresh_from_db()
        assert session.status in (SessionStatus.SCHEDULED, SessionStatus.PREPARING)
        statuses = sorted(
            PooledKernel.objects.filter(pk__in=[k.pk for k in kernels]).values_list(
                "status", flat=True
            )
        )
        assert statuses == ["READY", "READY", "TERMINATED", "TERMINATED"]


@pytest.mark.django_db(transaction=True)
class TestWarmClaimRace:
    def test_two_claims_racing_for_one_kernel_claim_it_once(
        self, world: ComputeWorld, pool_commands: Sent, capture: Capture
    ) -> None:
        pool = _pool(world, target=1)
        (pooled,) = _fill(world, pool, capture)
        owners = [
            Session.objects.create(
                name=f"race{i}", domain=world.domain, project=world.project,
                user=world.user.user, access_key=world.user.keypair, resource_group=world.group,
                image=world.image, image_ref="python",
            )
            for i in range(2)
        ]  # fmt: skip
        barrier = threading.Barrier(2)
        results: list[str | None] = [None, None]
        errors: list[BaseException] = []

        def claim(index: int) -> None:
            try:
                with transaction.atomic():
                    barrier.wait(timeout=10)
                    got = warm_pools.pooled_kernel_claim(
                        pool=pool, session=owners[index], now=timezone.now()
                    )
                    barrier.wait(timeout=10)  # both statements ran before either commits
                    results[index] = str(got.pk) if got else None
            except BaseException as exc:  # reported in the main thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert not errors
        assert sorted(results, key=str) == sorted([str(pooled.pk), None], key=str)
        pooled.refresh_from_db()
        assert pooled.status == PooledKernelStatus.CLAIMED
        winner = owners[results.index(str(pooled.pk))]
        assert pooled.session_id == winner.pk
        assert not Kernel.objects.filter(pk=pooled.pk).exists()  # the claim alone binds nothing
