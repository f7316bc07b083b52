"""`session_start` (BENCHMARKS.md): `POST /session` (blocking) until RUNNING with the runner ready.

A: the platform. A live stack (gunicorn web, manager worker with beat, batch worker, one agent on
   the local Docker engine) on a throwaway database; the owner's `POST /session` with
   `maxWaitSeconds: 0` returns only when the session is RUNNING, which the agent reports after the
   kernel runner inside the container answered its authenticated ping. Timed: the request, from
   sending it to reading the 201 response (signing happens before the clock starts).
B: the Docker SDK baseline. `containers.run(image, ["sleep", "infinity"], detach=True, ...)` of
   the same image with the limits the agent's Docker runtime gives a kernel of the same request
   (cpuset of one CPU, memory = memory+swap limit, pids limit, --init, uid 1000, all capabilities
   dropped, no-new-privileges), then `exec_run(["python3", "-c", "pass"])` repeated until it exits
   0. Timed: from calling `containers.run` to that first successful exec.

Samples alternate A, B, A, B... (after a warm-up of each that is not counted); every session is
destroyed and every container removed between samples, outside the timed region.

    python -m bench session_start [--samples 30] [--warmup 2]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
import uuid
from typing import Any

from bench._stack import (
    KERNEL_IMAGE,
    ApiClient,
    LiveStack,
    docker_ready,
    owner_create,
    percentile,
    remove_containers,
    session_create_body,
    setup_django,
    throwaway_database,
    verdict,
    wait_for,
)

CPU = 1
MEM_BYTES = 256 * 1024**2
RESOURCES = {"cpu": str(CPU), "mem": "256m"}
PIDS_LIMIT = 4096  # agents_app.runtime.models.KernelSpec.pids_limit default
BASELINE_LABEL = "ai.backend.bench=session_start"


def baseline_run_kwargs(cpuset: str) -> dict[str, Any]:
    """`containers.run` arguments with the limits DockerRuntime._create_container applies."""
    return {
        "detach": True,
        "cpuset_cpus": cpuset,
        "mem_limit": MEM_BYTES,
        "memswap_limit": MEM_BYTES,
        "pids_limit": PIDS_LIMIT,
        "init": True,
        "user": "1000:1000",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "labels": {"ai.backend.bench": "session_start"},
    }


def sdk_start(client: Any, cpuset: str = "0", label: str = BASELINE_LABEL) -> tuple[float, Any]:
    """Seconds from `containers.run` until `python3 -c pass` exits 0 inside; and the container."""
    kwargs = baseline_run_kwargs(cpuset)
    kwargs["labels"] = dict([label.split("=", 1)])
    started = time.perf_counter()
    container = client.containers.run(KERNEL_IMAGE, ["sleep", "infinity"], **kwargs)
    while True:
        result = container.exec_run(["python3", "-c", "pass"])
        if result.exit_code == 0:
            return time.perf_counter() - started, container
        time.sleep(0.01)


def wait_terminated(session_ids: list[str], timeout: float = 120) -> None:
    from sessions_app.enums import SessionStatus
    from sessions_app.models import Session

    dead = SessionStatus.dead()
    wait_for(
        lambda: not Session.objects.filter(pk__in=session_ids).exclude(status__in=dead).exists(),
        timeout, f"{len(session_ids)} sessions to terminate",
    )  # fmt: skip


def phases(session_id: str, sent: float, answered: float) -> dict[str, float]:
    """Seconds between the request, each status of the session's history, and the response."""
    from sessions_app.models import SessionStatusHistory

    marks = [("sent", sent)] + [
        (str(status), at.timestamp())
        for status, at in SessionStatusHistory.objects.filter(session_id=session_id)
        .order_by("at", "id")
        .values_list("status", "at")
    ]
    marks.append(("answered", answered))
    return {f"{a}->{b}": tb - ta for (a, ta), (b, tb) in itertools.pairwise(marks)}


PHASES: list[dict[str, float]] = []


def platform_start(api: ApiClient, name: str) -> tuple[float, str]:
    """Seconds of one blocking `POST /session`; and the session id."""
    body = session_create_body(name, RESOURCES)
    sent = time.time()
    started = time.perf_counter()
    status, reply = api.call("POST", "/session", body)
    elapsed = time.perf_counter() - started
    if isinstance(reply, dict) and "sessionId" in reply:
        PHASES.append(phases(str(reply["sessionId"]), sent, sent + elapsed))
    if status != 201 or not isinstance(reply, dict) or reply.get("status") != "RUNNING":
        raise RuntimeError(f"POST /session answered {status}: {reply}")
    return elapsed, str(reply["sessionId"])


def platform_destroy(api: ApiClient, session_ids: list[str]) -> None:
    for session_id in session_ids:
        status, reply = api.call("DELETE", f"/session/{session_id}")
        if status // 100 != 2:
            raise RuntimeError(f"DELETE /session/{session_id} answered {status}: {reply}")
    wait_terminated(session_ids)


def start_stack(database_url: str, agent_extra: dict[str, str]) -> LiveStack:
    stack = LiveStack(database_url=database_url)
    try:
        stack.start_web()
        stack.start_workers()
        stack.start_agent(f"bench-{uuid.uuid4().hex[:8]}", agent_extra)
        stack.wait_web()
        stack.wait_agent()
    except BaseException:
        print(stack.logs(), file=sys.stderr)
        stack.stop()
        raise
    return stack


def summary(label: str, values: list[float]) -> str:
    return (
        f"{label}: p50 {statistics.median(values) * 1000:.0f} ms, "
        f"p95 {percentile(values, 95) * 1000:.0f} ms (n={len(values)})"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench session_start")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)
    docker_ready()
    setup_django()
    import docker

    client = docker.from_env()
    remove_containers(BASELINE_LABEL)
    platform: list[float] = []
    sdk: list[float] = []
    with throwaway_database("session_start") as database_url:
        owner = owner_create("bench-start@example.com")
        stack = start_stack(database_url, {"BAI_AGENT_CAPACITY": '{"mem": "4g"}'})
        try:
            api = ApiClient(stack.url, owner)
            for i in range(args.warmup + args.samples):
                elapsed, session_id = platform_start(api, f"bench-start-{i}")
                platform_destroy(api, [session_id])
                sdk_elapsed, container = sdk_start(client)
                container.remove(force=True)
                if i >= args.warmup:
                    platform.append(elapsed)
                    sdk.append(sdk_elapsed)
        except BaseException:
            print(stack.logs(), file=sys.stderr)
            raise
        finally:
            stack.stop()
            remove_containers(BASELINE_LABEL)

    print_phases(args.warmup)
    print_ratios("session_start", "platform POST /session until RUNNING", platform, sdk, 1.15, 1.4)
    return 0


def print_phases(warmup: int) -> None:
    """The median wall-clock time of each status phase over the counted samples."""
    counted = PHASES[warmup:]
    print(
        "platform phases (median ms, wall clock from the status history): "
        + ", ".join(
            f"{key} {statistics.median(p[key] for p in counted if key in p) * 1000:.0f}"
            for key in counted[0]
        )
    )


def print_ratios(
    name: str, what: str, platform: list[float], sdk: list[float], p50_target: float,
    p95_target: float,
) -> None:  # fmt: skip
    """Both sides' summaries and the p50/p95 ratios of platform to the Docker SDK baseline."""
    print(summary(what, platform))
    print(summary("Docker SDK run + exec python3 -c pass", sdk))
    p50 = statistics.median(platform) / statistics.median(sdk)
    p95 = percentile(platform, 95) / percentile(sdk, 95)
    print(f"RESULT {name} p50_ratio={p50:.3f} target<={p50_target} {verdict(p50 <= p50_target)}")
    print(f"RESULT {name} p95_ratio={p95:.3f} target<={p95_target} {verdict(p95 <= p95_target)}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
