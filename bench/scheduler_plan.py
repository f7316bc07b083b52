"""`scheduler_plan` (BENCHMARKS.md): one scheduler pass, 10,000 pending sessions x 1,000 agents.

1. Plan only: the pure planner over an in-memory snapshot (median of several runs, one core).
2. Plan + commit: the same pass against a real PostgreSQL database created for the run
   (`bench_scheduler`, migrated, dropped at the end), reporting committed placements per second.

    python -m bench scheduler_plan [--sessions N] [--agents N] [--db-sessions N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

GIB = 1024**3
SCALE = 10**6
AGENT_CPU = 64
AGENT_MEM_GIB = 256


def _requests(count: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(rng.randint(1, 4), rng.choice((1, 2, 4, 8))) for _ in range(count)]


def build_snapshot(sessions: int, agents: int, *, seed: int = 7) -> Any:
    from sessions_app.scheduler.types import (
        AgentState,
        KeypairPolicy,
        PendingKernel,
        PendingSession,
        SlotLimit,
        Snapshot,
    )

    now = datetime.now(UTC)
    users = [uuid.uuid4() for _ in range(100)]
    snapshot = Snapshot(
        resource_group_id=1,
        scheduler="fifo",
        selection_strategy="dispersed",
        pending_timeout=0,
        now=now,
        sessions=[],
        agents=[
            AgentState(
                id=f"i-bench{i:05d}",
                architecture="x86_64",
                capacity={"cpu": AGENT_CPU * SCALE, "mem": AGENT_MEM_GIB * GIB * SCALE},
                used={},
            )
            for i in range(agents)
        ],
    )
    for i, (cpu, mem) in enumerate(_requests(sessions, seed)):
        user = users[i % len(users)]
        slots = {"cpu": cpu * SCALE, "mem": mem * GIB * SCALE}
        access_key = f"AKBENCH{i % len(users):05d}"
        snapshot.sessions.append(
            PendingSession(
                id=uuid.uuid4(), access_key=access_key, user_id=user, project_id=user,
                domain_id=1, priority=10, created_at=now - timedelta(seconds=sessions - i),
                cluster_mode="single-node", architecture="x86_64",
                kernels=[PendingKernel(uuid.uuid4(), 1, slots)], requested_total=dict(slots),
            )
        )  # fmt: skip
        snapshot.keypair_policies[access_key] = KeypairPolicy(
            name="default", total=SlotLimit({}, True), max_concurrent_sessions=10**6
        )
    return snapshot


def bench_plan(sessions: int, agents: int, runs: int) -> tuple[float, int]:
    from sessions_app.scheduler.planner import plan_pass

    snapshot = build_snapshot(sessions, agents)
    times: list[float] = []
    placed = 0
    for _ in range(runs):
        started = time.perf_counter()
        plan = plan_pass(snapshot)
        times.append(time.perf_counter() - started)
        placed = len(plan.placements)
    return statistics.median(times), placed


def _setup_django() -> None:
    from backendai_site.config import load_config
    from backendai_site.devservices import service_env

    os.environ.update(service_env(load_config().data_dir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backendai_site.settings")
    os.environ.setdefault("BAI_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _seed(sessions: int, agents: int) -> int:
    from agents_app.enums import SlotType
    from agents_app.models import Agent, AgentResource, Image, ResourceGroup
    from backendai_site.accounts.models import (
        Domain,
        KeyPair,
        KeypairResourcePolicy,
        Project,
        ProjectResourcePolicy,
        User,
        UserResourcePolicy,
    )
    from sessions_app.models import Kernel, Session

    domain = Domain.objects.create(name="bench")
    project = Project.objects.create(
        name="bench", domain=domain,
        resource_policy=ProjectResourcePolicy.objects.create(name="bench"),
    )  # fmt: skip
    user_policy = UserResourcePolicy.objects.create(name="bench")
    kp_policy = KeypairResourcePolicy.objects.create(
        name="bench", default_for_unspecified="UNLIMITED", max_concurrent_sessions=10**6
    )
    owners: list[KeyPair] = []
    for i in range(20):
        user = User.objects.create(
            email=f"b{i}@bench.example", username=f"b{i}", domain=domain,
            resource_policy=user_policy,
        )  # fmt: skip
        owners.append(
            KeyPair.objects.create(
                access_key=f"AKBENCH{i:013d}", secret_key_encrypted="x", user=user,
                resource_policy=kp_policy,
            )
        )  # fmt: skip
    group = ResourceGroup.objects.create(
        name="bench", scheduler="fifo",
        scheduler_opts={"agent_selection_strategy": "dispersed"},
    )  # fmt: skip
    image = Image.objects.create(name="bench/python", tag="1")
    Agent.objects.bulk_create(
        Agent(id=f"i-bench{i:05d}", resource_group=group) for i in range(agents)
    )
    AgentResource.objects.bulk_create(
        row
        for i in range(agents)
        for row in (
            AgentResource(agent_id=f"i-bench{i:05d}", slot_name="cpu", capacity=AGENT_CPU),
            AgentResource(
                agent_id=f"i-bench{i:05d}", slot_name="mem", slot_type=SlotType.BYTES,
                capacity=Decimal(AGENT_MEM_GIB * GIB),
            ),
        )
    )  # fmt: skip
    rows: list[Session] = []
    kernels: list[Kernel] = []
    for i, (cpu, mem) in enumerate(_requests(sessions, 11)):
        owner = owners[i % len(owners)]
        slots = {"cpu": str(cpu), "mem": str(mem * GIB)}
        session = Session(
            name=f"b{i}", domain=domain, project=project, user_id=owner.user_id,
            access_key=owner, resource_group=group, image=image, image_ref="bench/python:1",
            requested_slots=slots,
        )  # fmt: skip
        rows.append(session)
        kernels.append(Kernel(session=session, requested_slots=slots))
    Session.objects.bulk_create(rows, batch_size=2000)
    Kernel.objects.bulk_create(kernels, batch_size=2000)
    return group.pk


def bench_commit(sessions: int, agents: int) -> tuple[float, int, float]:
    """Seconds of one pass, sessions it placed, and the planner's share."""
    from django.conf import settings
    from django.db import connection

    from sessions_app.scheduler import hooks, runner

    hooks._callbacks.clear()  # starting kernels on imaginary agents is not what we time
    settings.DATABASES["default"]["TEST"]["NAME"] = "bench_scheduler"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        group_id = _seed(sessions, agents)
        report = runner.schedule_resource_group(group_id)
        return report.total_seconds, len(report.scheduled), report.plan_seconds
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scheduler_plan")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=1_000)
    parser.add_argument("--db-sessions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    _setup_django()

    plan_s, placed = bench_plan(args.sessions, args.agents, args.runs)
    print(
        f"plan only: {args.sessions} pending x {args.agents} agents, {placed} placed, "
        f"median {plan_s:.3f} s over {args.runs} runs"
    )
    total_s, committed, commit_plan_s = bench_commit(args.db_sessions, args.agents)
    rate = committed / total_s if total_s else 0.0
    print(
        f"plan + commit: {args.db_sessions} pending x {args.agents} agents, {committed} "
        f"committed in {total_s:.3f} s (planner {commit_plan_s:.3f} s)"
    )
    verdict = "PASS" if plan_s < 1 else "SHORT"
    print(f"RESULT scheduler_plan plan_seconds={plan_s:.4f} target<1 {verdict}")
    print(
        f"RESULT scheduler_plan placements_per_s={rate:.0f} target>=1000 "
        f"{'PASS' if rate >= 1000 else 'SHORT'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
