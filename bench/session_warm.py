"""`session_warm` (BENCHMARKS.md): `POST /session` (blocking) served from a warm pool until RUNNING
with the runner ready.

A: the platform with a warm pool of one kernel of the request's image and shape (cpu=1, mem=256m)
   in the owner's resource group: the same live stack and request body as `session_start`; the
   create claims the pooled kernel and binds it (docs/design/0007-warm-pools.md). Timed: the
   request, from sending it to reading the 201 RUNNING response. Every counted sample is checked
   to have been served by the pool (its kernel is the claimed pooled kernel); a miss aborts.
B: the same Docker SDK start as `session_start` (`containers.run` + `exec_run python3 -c pass`
   until it exits 0), same limits.

Samples alternate A, B, A, B... after a warm-up of each; outside the timed region the session is
destroyed, the container removed, and the pool refilled (waiting until its kernel is READY).

    python -m bench session_warm [--samples 30] [--warmup 2]
"""

from __future__ import annotations

import argparse
import sys
import time

from bench._stack import (
    KERNEL_IMAGE,
    ApiClient,
    docker_ready,
    owner_create,
    remove_containers,
    setup_django,
    throwaway_database,
    wait_for,
)
from bench.session_start import (
    BASELINE_LABEL,
    platform_destroy,
    platform_start,
    print_phases,
    print_ratios,
    sdk_start,
    start_stack,
    summary,
)

MEM_BYTES = 256 * 1024**2
REFILL_TIMEOUT = 120


def pool_create() -> int:
    """A pool of one kernel of the benchmark's request, in the default group."""
    from agents_app.models import ResourceGroup
    from agents_app.selectors import image_resolve
    from sessions_app.models import WarmPool

    image = image_resolve(ref_or_alias=KERNEL_IMAGE)
    if image is None:
        raise RuntimeError(f"{KERNEL_IMAGE} is not in the image catalog")
    pool = WarmPool.objects.create(
        resource_group=ResourceGroup.objects.get(name="default"),
        image=image,
        slots={"cpu": "1", "mem": str(MEM_BYTES)},
        target_size=1,
    )
    return pool.pk


def pool_ready(pool_id: int) -> None:
    """Wait (untimed) until the pool has its kernel READY again."""
    from sessions_app.enums import PooledKernelStatus
    from sessions_app.models import PooledKernel

    wait_for(
        lambda: PooledKernel.objects.filter(
            pool_id=pool_id, status=PooledKernelStatus.READY
        ).exists(),
        REFILL_TIMEOUT, "the warm pool to refill",
    )  # fmt: skip


def served_by_pool(pool_id: int, session_id: str) -> bool:
    from sessions_app.enums import PooledKernelStatus
    from sessions_app.models import PooledKernel

    return PooledKernel.objects.filter(
        pool_id=pool_id, session_id=session_id, status=PooledKernelStatus.CLAIMED
    ).exists()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench session_warm")
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
    refill: list[float] = []
    with throwaway_database("session_warm") as database_url:
        owner = owner_create("bench-warm@example.com")
        stack = start_stack(database_url, {"BAI_AGENT_CAPACITY": '{"mem": "4g"}'})
        try:
            api = ApiClient(stack.url, owner)
            wait_for(lambda: _image_known(), 60, "the agent's images in the catalog")
            pool_id = pool_create()
            for i in range(args.warmup + args.samples):
                refill_started = time.perf_counter()
                pool_ready(pool_id)
                refill_wait = time.perf_counter() - refill_started
                elapsed, session_id = platform_start(api, f"bench-warm-{i}")
                if not served_by_pool(pool_id, session_id):
                    raise RuntimeError(f"sample {i}: session {session_id} was not served warm")
                platform_destroy(api, [session_id])
                sdk_elapsed, container = sdk_start(client)
                container.remove(force=True)
                if i >= args.warmup:
                    platform.append(elapsed)
                    sdk.append(sdk_elapsed)
                    refill.append(refill_wait)
        except BaseException:
            print(stack.logs(), file=sys.stderr)
            raise
        finally:
            stack.stop()
            remove_containers(BASELINE_LABEL)

    print_phases(args.warmup)
    print(summary("untimed wait for the pool's refill before each sample", refill))
    print_ratios(
        "session_warm", "platform POST /session (warm) until RUNNING", platform, sdk, 0.25, 0.4
    )
    return 0


def _image_known() -> bool:
    from agents_app.selectors import image_resolve

    return image_resolve(ref_or_alias=KERNEL_IMAGE) is not None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
