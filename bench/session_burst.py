"""`session_burst` (BENCHMARKS.md): 20 sessions created at once, time until all are RUNNING.

A: the platform. 20 blocking `POST /session` requests sent at once (20 client threads, released
   together by a barrier) to a live stack whose one agent declares room for them (cpu 40,
   `BAI_AGENT_EXCLUSIVE_CPUS=false` so 1-CPU kernels share the 2 cores, mem 8g; each session asks
   cpu=1, mem=256m). Timed: from the barrier to the last 201 RUNNING response.
B: the Docker SDK baseline. The same 20 starts as `session_start` measures them (`containers.run`
   of the same image with the same limits, then `exec_run python3 -c pass` until it succeeds), run
   by a pool of C threads for C in 1, 2, 4, 8, 20. Timed: wall time of all 20; the best C counts.

Rounds alternate A then the B sweep; everything is destroyed between runs, outside the timed
region. The ratio is median(A) / median(best B) over the rounds.

    python -m bench session_burst [--rounds 3] [--sessions 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._stack import (
    ApiClient,
    docker_ready,
    owner_create,
    remove_containers,
    setup_django,
    throwaway_database,
    verdict,
)
from bench.session_start import platform_destroy, platform_start, sdk_start, start_stack

CONCURRENCY_SWEEP = (1, 2, 4, 8, 20)
BASELINE_LABEL = "ai.backend.bench=session_burst"
AGENT_ENV = {
    "BAI_AGENT_CAPACITY": '{"cpu": "40", "mem": "8g"}',
    "BAI_AGENT_EXCLUSIVE_CPUS": "false",
}


def platform_burst(api: ApiClient, count: int, round_no: int) -> tuple[float, list[str]]:
    """Wall seconds until all `count` concurrent blocking creates answered RUNNING; their ids."""
    barrier = threading.Barrier(count + 1)

    def one(i: int) -> str:
        barrier.wait()
        return platform_start(api, f"bench-burst-{round_no}-{i}")[1]

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(one, i) for i in range(count)]
        barrier.wait()
        started = time.perf_counter()
        ids = [future.result() for future in futures]
        elapsed = time.perf_counter() - started
    return elapsed, ids


def sdk_burst(client: Any, count: int, concurrency: int, cpus: int) -> float:
    """Wall seconds of `count` SDK starts (run + exec until ready) by `concurrency` threads."""
    containers: list[Any] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        _, container = sdk_start(client, cpuset=str(i % cpus), label=BASELINE_LABEL)
        with lock:
            containers.append(container)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(one, i) for i in range(count)]:
            future.result()
    elapsed = time.perf_counter() - started
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda c: c.remove(force=True), containers))
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench session_burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=20)
    args = parser.parse_args(argv)
    docker_ready()
    setup_django()
    import docker

    client = docker.from_env(max_pool_size=max(CONCURRENCY_SWEEP))
    cpus = len(os.sched_getaffinity(0))
    remove_containers(BASELINE_LABEL)
    platform: list[float] = []
    best: list[float] = []
    sweeps: list[dict[int, float]] = []
    with throwaway_database("session_burst") as database_url:
        owner = owner_create("bench-burst@example.com")
        stack = start_stack(database_url, AGENT_ENV)
        try:
            api = ApiClient(stack.url, owner)
            _, ids = platform_burst(api, 2, -1)  # warm the roles once, not counted
            platform_destroy(api, ids)
            for round_no in range(args.rounds):
                elapsed, ids = platform_burst(api, args.sessions, round_no)
                platform_destroy(api, ids)
                platform.append(elapsed)
                sweep = {
                    c: sdk_burst(client, args.sessions, c, cpus)
                    for c in CONCURRENCY_SWEEP
                    if c <= args.sessions
                }
                sweeps.append(sweep)
                best.append(min(sweep.values()))
                print(
                    f"round {round_no + 1}: platform {elapsed:.2f} s (concurrency "
                    f"{args.sessions}); SDK "
                    + ", ".join(f"c={c} {s:.2f} s" for c, s in sweep.items())
                )
        except BaseException:
            print(stack.logs(), file=sys.stderr)
            raise
        finally:
            stack.stop()
            remove_containers(BASELINE_LABEL)

    best_c = [min(s, key=s.__getitem__) for s in sweeps]
    print(
        f"platform: {args.sessions} concurrent POST /session, all RUNNING in median "
        f"{statistics.median(platform):.2f} s (rounds: {', '.join(f'{p:.2f}' for p in platform)})"
    )
    print(
        f"Docker SDK: {args.sessions} starts, best of concurrency {list(CONCURRENCY_SWEEP)}: "
        f"median {statistics.median(best):.2f} s (rounds: "
        + ", ".join(f"{b:.2f} at c={c}" for b, c in zip(best, best_c, strict=True))
        + ")"
    )
    ratio = statistics.median(platform) / statistics.median(best)
    print(f"RESULT session_burst ratio={ratio:.3f} target<=1.3 {verdict(ratio <= 1.3)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
