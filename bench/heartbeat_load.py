"""`heartbeat_load` (BENCHMARKS.md): API p95 while 1,000 agents heartbeat every 5 s.

Data: a throwaway database with 10,000 RUNNING sessions (each with its kernel) of one owner,
spread over 1,000 registered agents (10 kernels each), then `ANALYZE`.
Heartbeats: 1,000 simulated agents, each sending the `agents_app.agent_heartbeat` task to the
`events` queue every 5 s (phases spread evenly, so 200 a second), with its 10 kernels' stats, the
way the agent daemon's Celery sender does; the manager worker (queues manager,events, with beat,
as `bench/_stack.py` starts it) records them: one UPDATE of `last_heartbeat`, the capacity read,
and the kernel stats into Redis.
API: `GET /session` (50 rows of 10,000) on gunicorn with 2 uvicorn workers (scripts/run.sh)
under wrk (`-t2 -c10`, the signed header set pre-computed as `api_list` does).
Rounds alternate A (wrk while the heartbeats run, after a warm-up of one interval) and B (wrk
with no heartbeats, after the backlog drained); ratio = median(p95 A) / median(p95 B), target
<= 1.5. Also printed: heartbeats sent and recorded per A round (the worker must keep up), and the
query count of one heartbeat with 10 and with 100 kernels (must be equal: O(1) writes), and the
smallest share of agents whose heartbeat was recorded during an A run (>= 0.95: below it the
worker fell behind and the ratio does not measure a platform under that load).

    python -m bench heartbeat_load [--agents 1000] [--rows 10000] [--interval 5] [--rounds 3]
                                   [--duration 15] [--connections 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from bench._stack import (
    LiveStack,
    Owner,
    http_call,
    owner_create,
    setup_django,
    signed_headers,
    throwaway_database,
    verdict,
)
from bench.api_list import WRK_SCRIPT, WrkRun, ensure_wrk, run_wrk

TARGET = 1.5
AGENT_PREFIX = "i-bench-hb-"


def agent_id(index: int) -> str:
    return f"{AGENT_PREFIX}{index:05d}"


def heartbeat_body(index: int, kernel_ids: list[str], tick: int) -> dict[str, Any]:
    """What agent `index` sends on its `tick`-th heartbeat (the daemon's AgentHeartbeat)."""
    from agents_app.enums import SlotType
    from agents_app.schemas import AgentHeartbeat, KernelStat, SlotCapacity

    return AgentHeartbeat(
        agent_id=agent_id(index),
        boot_id="bench-boot",
        resource_group="default",
        advertised_host="127.0.0.1",
        architecture="x86_64",
        version="bench",
        slots=[
            SlotCapacity(slot_name="cpu", slot_type=SlotType.COUNT, capacity=Decimal(16)),
            SlotCapacity(slot_name="mem", slot_type=SlotType.BYTES, capacity=Decimal(64 << 30)),
        ],
        kernels=[
            KernelStat(
                kernel_id=kernel_id,
                status="running",
                cpu_used_seconds=float(tick),
                mem_bytes=64 << 20,
                mem_limit_bytes=256 << 20,
            )
            for kernel_id in kernel_ids
        ],
    ).model_dump(mode="json")


def seed(owner: Owner, *, agents: int, rows: int) -> dict[int, list[str]]:
    """Register the agents, insert the sessions over them; agent index -> its kernel ids."""
    from django.db import connection

    from agents_app.models import Image, ResourceGroup
    from agents_app.schemas import AgentHeartbeat
    from agents_app.services.agents import agent_heartbeat
    from backendai_site.accounts.models import KeyPair
    from sessions_app.enums import SessionStatus
    from sessions_app.models import Kernel, Session

    for index in range(agents):
        agent_heartbeat(info=AgentHeartbeat.model_validate(heartbeat_body(index, [], 0)))
    keypair = KeyPair.objects.select_related("user").get(access_key=owner.access_key)
    project = keypair.user.projects.get()
    group, _ = ResourceGroup.objects.get_or_create(name="default")
    image, _ = Image.objects.get_or_create(name="backendai/python", tag="3.11-debian")
    slots = {"cpu": "1", "mem": str(256 * 1024**2)}
    sessions = [
        Session(
            name=f"bench-hb-{i}",
            domain_id=keypair.user.domain_id,
            project=project,
            user_id=keypair.user_id,
            access_key=keypair,
            resource_group=group,
            image=image,
            image_ref="backendai/python:3.11-debian",
            requested_slots=slots,
            occupying_slots=slots,
            status=SessionStatus.RUNNING,
        )
        for i in range(rows)
    ]
    Session.objects.bulk_create(sessions, batch_size=2000)
    kernels = [
        Kernel(
            session=s,
            agent_id=agent_id(i % agents),
            requested_slots=slots,
            occupied_slots=slots,
        )
        for i, s in enumerate(sessions)
    ]
    Kernel.objects.bulk_create(kernels, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    by_agent: dict[int, list[str]] = {}
    for i, kernel in enumerate(kernels):
        by_agent.setdefault(i % agents, []).append(str(kernel.pk))
    return by_agent


def heartbeat_query_count(kernel_ids: list[str]) -> tuple[int, int]:
    """(queries, writes) of recording one heartbeat carrying `kernel_ids`' stats, in process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agents_app.schemas import AgentHeartbeat
    from agents_app.services.agents import agent_record_heartbeat

    body = AgentHeartbeat.model_validate(heartbeat_body(0, kernel_ids, 1))
    agent_record_heartbeat(heartbeat=body)
    with CaptureQueriesContext(connection) as queries:
        agent_record_heartbeat(
            heartbeat=AgentHeartbeat.model_validate(heartbeat_body(0, kernel_ids, 2))
        )
    writes = [q for q in queries.captured_queries if not q["sql"].lstrip().startswith("SELECT")]
    return len(queries), len(writes)


def _send_heartbeats(
    broker_url: str,
    bodies: list[tuple[int, dict[str, Any]]],
    interval: float,
    stop: EventType,
    sent: Synchronized[int],
    late: Synchronized[int],
) -> None:
    """One sender process: each of its agents' heartbeats once per interval, at its own phase."""
    from celery import Celery

    from agents_app.enums import EVENTS_QUEUE

    app = Celery("bench-heartbeats", broker=broker_url, fixups=[], set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"])
    started = time.monotonic()
    tick = 0
    try:
        while not stop.is_set():
            tick += 1
            for phase, body in bodies:
                due = started + (tick - 1) * interval + phase
                delay = due - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
                if delay < -interval:
                    with late.get_lock():
                        late.value += 1
                message = {
                    **body,
                    "sent_at": datetime.now(UTC).isoformat(),
                    "kernels": [{**k, "cpu_used_seconds": float(tick)} for k in body["kernels"]],
                }
                app.send_task("agents_app.agent_heartbeat", args=[message], queue=EVENTS_QUEUE)
                with sent.get_lock():
                    sent.value += 1
    finally:
        app.close()


@dataclass
class HeartbeatLoad:
    """Sender processes that send every agent's heartbeat once per interval, phases spread
    evenly over the interval (the agents' own clocks are not in step)."""

    broker_url: str
    kernels: dict[int, list[str]]
    interval: float
    senders: int = 4

    def __post_init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._sent = self._context.Value("q", 0)
        self._late = self._context.Value("q", 0)
        self._stop = self._context.Event()
        self._processes: list[BaseProcess] = []
        agents = sorted(self.kernels)
        step = self.interval / len(agents)
        self._bodies = [
            (slot * step, heartbeat_body(index, self.kernels[index], 0))
            for slot, index in enumerate(agents)
        ]

    @property
    def sent(self) -> int:
        return int(self._sent.value)

    @property
    def late(self) -> int:
        return int(self._late.value)

    def start(self) -> None:
        self._stop.clear()
        self._processes = [
            self._context.Process(
                target=_send_heartbeats,
                args=(
                    self.broker_url,
                    self._bodies[n :: self.senders],
                    self.interval,
                    self._stop,
                    self._sent,
                    self._late,
                ),
                daemon=True,
            )
            for n in range(self.senders)
        ]
        for process in self._processes:
            process.start()

    def stop(self) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        self._processes = []


def queue_length(redis_url: str, queue: str) -> int:
    import redis

    return int(redis.Redis.from_url(redis_url).llen(queue))


def recorded_since(since: datetime) -> int:
    """Agents whose last heartbeat was recorded after `since`."""
    from agents_app.models import Agent

    return Agent.objects.filter(pk__startswith=AGENT_PREFIX, last_heartbeat__gte=since).count()


def wait_drained(redis_url: str, timeout: float = 120) -> float:
    started = time.monotonic()
    while queue_length(redis_url, "events") and time.monotonic() - started < timeout:
        time.sleep(0.5)
    return time.monotonic() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench heartbeat_load")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between heartbeats")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (run.sh: 2)")
    parser.add_argument("--senders", type=int, default=4, help="heartbeat sender processes")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    # the beat's LOST sweep must not flip agents during the rounds without heartbeats
    os.environ["BAI_AGENTS_LOST_TIMEOUT"] = "3600"
    setup_django()
    redis_url = os.environ["REDIS_URL"]
    loaded: list[WrkRun] = []
    quiet: list[WrkRun] = []
    keep_up: list[str] = []
    recorded_fractions: list[float] = []
    with throwaway_database("heartbeat_load") as database_url, tempfile.TemporaryDirectory() as tmp:
        owner = owner_create("bench-heartbeat@example.com")
        kernels = seed(owner, agents=args.agents, rows=args.rows)
        few = heartbeat_query_count(kernels[0][:10])
        many_ids = [kid for index in range(10) for kid in kernels[index]][:100]
        many = heartbeat_query_count(many_ids)
        print(
            f"one heartbeat: {few[0]} queries ({few[1]} writes) with 10 kernels, "
            f"{many[0]} queries ({many[1]} writes) with {len(many_ids)} kernels"
        )
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_SCRIPT)
        stack = LiveStack(database_url=database_url)
        load = HeartbeatLoad(
            broker_url=redis_url, kernels=kernels, interval=args.interval, senders=args.senders
        )
        try:
            stack.start_web(workers=args.workers)
            stack.start_workers()
            stack.wait_web()
            host = stack.url.split("://", 1)[1]
            headers = signed_headers(
                owner, method="GET", rel_url="/session", host=host, content_type="text/plain"
            )
            status, body = http_call(stack.url + "/session", headers=headers)
            if status != 200:
                raise RuntimeError(f"GET /session answered {status}: {body[:500]!r}")
            run_wrk(  # warm-up, not counted: connection pools, caches, the first requests
                wrk,
                script,
                stack.url + "/session",
                headers,
                seconds=min(args.duration, 5),
                connections=args.connections,
            )
            for round_no in range(args.rounds):
                sent_before, late_before = load.sent, load.late
                load.start()
                time.sleep(args.interval)  # one full interval: every agent heartbeats at least once
                since = datetime.now(UTC)
                a = run_wrk(
                    wrk, script, stack.url + "/session", headers,
                    seconds=args.duration, connections=args.connections,
                )  # fmt: skip
                backlog = queue_length(redis_url, "events")
                recorded = recorded_since(since)
                recorded_fractions.append(recorded / args.agents)
                load.stop()
                sent = load.sent - sent_before
                drain = wait_drained(redis_url)
                b = run_wrk(
                    wrk, script, stack.url + "/session", headers,
                    seconds=args.duration, connections=args.connections,
                )  # fmt: skip
                loaded.append(a)
                quiet.append(b)
                keep_up.append(
                    f"{sent} sent, {recorded}/{args.agents} agents recorded during wrk, "
                    f"backlog {backlog} at its end (drained in {drain:.1f} s), "
                    f"{load.late - late_before} sent over an interval late"
                )
                print(f"round {round_no + 1}: heartbeats    {a.line()}; {keep_up[-1]}")
                print(f"round {round_no + 1}: no heartbeats {b.line()}")
        except BaseException:
            print(stack.logs(), file=sys.stderr)
            raise
        finally:
            load.stop()
            stack.stop()

    bad = sum(r.non2xx + r.errors for r in loaded + quiet)
    p95_loaded = statistics.median(r.p95_ms for r in loaded)
    p95_quiet = statistics.median(r.p95_ms for r in quiet)
    for label, runs in (("with heartbeats", loaded), ("without", quiet)):
        print(
            f"GET /session {label}: median p95 {statistics.median(r.p95_ms for r in runs):.1f} ms, "
            f"p50 {statistics.median(r.p50_ms for r in runs):.1f} ms, "
            f"{statistics.median(r.rps for r in runs):.0f} req/s (wrk -t2 -c{args.connections}, "
            f"{args.duration} s x {len(runs)})"
        )
    ratio = p95_loaded / p95_quiet
    constant = few == many
    print(
        f"RESULT heartbeat_load p95_ratio={ratio:.3f} target<={TARGET} {verdict(ratio <= TARGET)}"
    )
    print(f"RESULT heartbeat_load heartbeat_queries={many[0]} target=={few[0]} {verdict(constant)}")
    # the ratio only means something when the worker kept up with the heartbeats during wrk
    fraction = min(recorded_fractions)
    print(
        f"RESULT heartbeat_load heartbeats_recorded={fraction:.3f} target>=0.95 "
        f"{verdict(fraction >= 0.95)}"
    )
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
