"""proxy_bulk: a 256 MiB download through our app proxy vs direct vs configurable-http-proxy 5,
the same nginx upstream (sendfile) for each, curl as the client (BENCHMARKS.md)."""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from bench._proxy_common import (
    chp,
    ensure_tools,
    median,
    nginx,
    our_headers,
    our_proxy,
    p95,
    workdir,
)

SIZE = 256 * 1024 * 1024


def fetch(port: int, headers: list[str]) -> float:
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}"]
    for header in headers:
        args += ["-H", header]
    start = time.perf_counter()
    out = subprocess.run([*args, f"http://127.0.0.1:{port}/big.bin"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    elapsed = time.perf_counter() - start
    if int(float(out)) != SIZE:
        raise RuntimeError(f"short download on port {port}: {out} bytes")
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench proxy_bulk")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    ensure_tools()
    with workdir() as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        with (root / "www" / "big.bin").open("wb") as out:
            out.truncate(SIZE)
        with nginx(root) as upstream, our_proxy(upstream) as ours, chp(upstream) as theirs:
            variants = {"direct": (upstream, []), "chp": (theirs, []),
                        "ours": (ours, our_headers(ours))}  # fmt: skip
            for port, headers in variants.values():
                fetch(port, headers)  # warm-up: page cache, connections
            times: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.rounds):
                for name, (port, headers) in variants.items():
                    times[name].append(fetch(port, headers))
    print(f"concurrency: 1 download at a time, {args.rounds} rounds, 256 MiB from nginx")
    for name, values in times.items():
        mbps = SIZE / median(values) / 1e6
        print(f"  {name:7s} p50 {median(values):.3f} s  p95 {p95(values):.3f} s  {mbps:.0f} MB/s")
    vs_direct = median(times["direct"]) / median(times["ours"])
    vs_chp = median(times["chp"]) / median(times["ours"])
    print(f"ours vs direct {vs_direct:.2f}x (target >= 0.5), ours vs chp {vs_chp:.2f}x "
          "(target >= 1.5)")  # fmt: skip
    ok = vs_direct >= 0.5 and vs_chp >= 1.5
    print(f"RESULT proxy_bulk ratio_vs_direct={vs_direct:.2f} target>=0.5 "
          f"{'PASS' if ok else 'SHORT'} (vs chp {vs_chp:.2f}, target>=1.5)")  # fmt: skip
    return 0
