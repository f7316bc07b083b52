"""`api_list` (BENCHMARKS.md): `GET /session`, 50 rows of 10,000, under wrk.

Data: a throwaway database with 10,000 sessions (each with its kernel) of one owner, inserted
with `bulk_create`.
Query count: `GET /session` in process (Django test client, signed) with CaptureQueriesContext,
once when the owner has 10 sessions and again with 10,000; the two counts must be equal.
Throughput: the web role served as production serves it (gunicorn, uvicorn workers, 2 workers,
scripts/run.sh) with `BAI_BENCH_ROOT_URLCONF=bench._api_list_urls`, which adds the baseline
view to the product's URLs for this server only.
A: `GET /session` (DRF list: signed-request authentication, filters, LimitOffsetPagination's
   count, serializer, kernels prefetched), with a fixed pre-signed header set (`-H`).
B: `GET /bench/session-values`: a plain Django view returning the same 50 rows with `.values()`
   + `JsonResponse` (bench/_api_list_urls.py).
wrk with 2 threads and 10 connections (keep-alive) per run; rounds alternate A, B, A, B; the ratio
is median(A req/s) / median(B req/s).

    python -m bench api_list [--rows 10000] [--rounds 3] [--duration 10] [--connections 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

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

SMALL_ROWS = 10
BASELINE_PATH = "bench/session-values"  # served by bench/_api_list_urls.py
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p95_us\\": %d, "
    .. "\\"p99_us\\": %d, \\"errors\\": %d, \\"non2xx\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class WrkRun:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    non2xx: int

    def line(self) -> str:
        return (
            f"{self.rps:.0f} req/s, p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, errors {self.errors}, non-2xx {self.non2xx}"
        )


def ensure_wrk() -> str:
    """The wrk binary, installed from the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True, env=env
    )
    return shutil.which("wrk") or "/usr/bin/wrk"


def seed(owner: Owner, start: int, count: int) -> None:
    from django.db import connection

    from agents_app.models import Image, ResourceGroup
    from backendai_site.accounts.models import KeyPair
    from sessions_app.enums import SessionStatus
    from sessions_app.models import Kernel, Session

    keypair = KeyPair.objects.select_related("user").get(access_key=owner.access_key)
    project = keypair.user.projects.get()
    group, _ = ResourceGroup.objects.get_or_create(name="default")
    image, _ = Image.objects.get_or_create(name="backendai/python", tag="3.11-debian")
    slots = {"cpu": "1", "mem": str(256 * 1024**2)}
    sessions = [
        Session(
            name=f"bench-list-{i}",
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
            environ={"I": str(i)},
        )
        for i in range(start, start + count)
    ]
    Session.objects.bulk_create(sessions, batch_size=2000)
    Kernel.objects.bulk_create(
        (Kernel(session=s, requested_slots=slots, occupied_slots=slots) for s in sessions),
        batch_size=2000,
    )
    with connection.cursor() as cursor:  # planner statistics, as a live table would have
        cursor.execute("ANALYZE")


def list_query_count(owner: Owner) -> tuple[int, int]:
    """(queries, rows returned) of one in-process `GET /session`."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    headers = signed_headers(
        owner, method="GET", rel_url="/session", host="testserver", content_type="text/plain"
    )
    client = Client()
    client.get("/session", headers={**headers, "Host": "testserver"})  # once-a-minute last_used
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/session", headers={**headers, "Host": "testserver"})
    if response.status_code != 200:
        raise RuntimeError(f"GET /session answered {response.status_code}: {response.content!r}")
    body = response.json()
    rows: list[object] = body.get("results", []) if isinstance(body, dict) else body
    return len(queries), len(rows)


def run_wrk(
    wrk: str, script: Path, url: str, headers: dict[str, str], *, seconds: int, connections: int
) -> WrkRun:
    args = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*args, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    match = re.search(r"^WRKJSON (.*)$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    data = json.loads(match.group(1))
    return WrkRun(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
        non2xx=data["non2xx"],
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api_list")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (run.sh: 2)")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    setup_django()
    product: list[WrkRun] = []
    baseline: list[WrkRun] = []
    with throwaway_database("api_list") as database_url, tempfile.TemporaryDirectory() as tmp:
        owner = owner_create("bench-list@example.com")
        seed(owner, 0, SMALL_ROWS)
        small_queries, small_rows = list_query_count(owner)
        seed(owner, SMALL_ROWS, args.rows - SMALL_ROWS)
        big_queries, big_rows = list_query_count(owner)
        print(
            f"query count of GET /session: {small_queries} with {SMALL_ROWS} rows "
            f"({small_rows} returned), {big_queries} with {args.rows} rows ({big_rows} returned)"
        )
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_SCRIPT)
        stack = LiveStack(database_url=database_url)
        try:
            stack.start_web(
                workers=args.workers, extra={"BAI_BENCH_ROOT_URLCONF": "bench._api_list_urls"}
            )
            stack.wait_web()
            host = stack.url.split("://", 1)[1]
            product_headers = signed_headers(
                owner, method="GET", rel_url="/session", host=host, content_type="text/plain"
            )
            baseline_url = f"{stack.url}/{BASELINE_PATH}?access_key={owner.access_key}"
            for url, headers in ((stack.url + "/session", product_headers), (baseline_url, {})):
                status, body = http_call(url, headers=headers)
                if status != 200:
                    raise RuntimeError(f"{url} answered {status}: {body[:500]!r}")
            for round_no in range(args.rounds):
                a = run_wrk(
                    wrk, script, stack.url + "/session", product_headers,
                    seconds=args.duration, connections=args.connections,
                )  # fmt: skip
                b = run_wrk(
                    wrk, script, baseline_url, {},
                    seconds=args.duration, connections=args.connections,
                )  # fmt: skip
                product.append(a)
                baseline.append(b)
                print(f"round {round_no + 1}: GET /session {a.line()}")
                print(f"round {round_no + 1}: baseline     {b.line()}")
        except BaseException:
            print(stack.logs(), file=sys.stderr)
            raise
        finally:
            stack.stop()

    bad = sum(r.non2xx for r in product + baseline)
    a_rps = statistics.median(r.rps for r in product)
    b_rps = statistics.median(r.rps for r in baseline)
    for label, runs, rps in (("GET /session", product, a_rps), ("baseline", baseline, b_rps)):
        print(
            f"{label}: median {rps:.0f} req/s at concurrency {args.connections} (wrk -t2, "
            f"{args.duration} s x {len(runs)} runs, gunicorn -w {args.workers} uvicorn workers); "
            f"latency p50 {statistics.median(r.p50_ms for r in runs):.1f} ms, "
            f"p95 {statistics.median(r.p95_ms for r in runs):.1f} ms"
        )
    ratio = a_rps / b_rps
    constant = small_queries == big_queries
    print(f"RESULT api_list throughput_ratio={ratio:.3f} target>=0.5 {verdict(ratio >= 0.5)}")
    print(f"RESULT api_list query_count={big_queries} target=={small_queries} {verdict(constant)}")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
