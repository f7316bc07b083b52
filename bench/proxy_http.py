"""proxy_http: small responses through our app proxy vs configurable-http-proxy 5 vs direct,
the same nginx upstream for each, wrk with 10 keep-alive connections (BENCHMARKS.md)."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

from bench._proxy_common import chp, ensure_tools, median, nginx, our_headers, our_proxy, workdir

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(port: int, headers: list[str], seconds: int, connections: int) -> tuple[float, dict]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, f"http://127.0.0.1:{port}/small.html"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\b", out, re.M):
        latency[pct] = float(value) * UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses on port {port}")
    return rps, latency


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench proxy_http")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args(argv)
    ensure_tools()
    with workdir() as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        (root / "www" / "small.html").write_bytes(b"<html>" + b"x" * 600 + b"</html>\n")
        with nginx(root) as upstream, our_proxy(upstream) as ours, chp(upstream) as theirs:
            variants = {"direct": (upstream, []), "chp": (theirs, []),
                        "ours": (ours, our_headers(ours))}  # fmt: skip
            results: dict[str, list[tuple[float, dict]]] = {name: [] for name in variants}
            for _ in range(args.rounds):  # interleaved rounds, so noise hits every variant
                for name, (port, headers) in variants.items():
                    results[name].append(wrk(port, headers, args.seconds, args.connections))
    summary = {}
    print(
        f"concurrency: {args.connections} keep-alive connections, wrk -t2, "
        f"{args.rounds} x {args.seconds}s rounds per variant, upstream nginx (small.html)"
    )
    for name, runs in results.items():
        rps = median([r for r, _ in runs])
        p50 = median([lat["50"] for _, lat in runs])
        p99 = median([lat["99"] for _, lat in runs])
        p90 = median([lat["90"] for _, lat in runs])
        summary[name] = (rps, p50)
        print(f"  {name:7s} {rps:10.0f} req/s  p50 {p50:.3f} ms  p90 {p90:.3f} ms  "
              f"p99 {p99:.3f} ms  (rounds: {', '.join(f'{r:.0f}' for r, _ in runs)})")  # fmt: skip
    vs_chp = summary["ours"][0] / summary["chp"][0]
    vs_direct = summary["ours"][0] / summary["direct"][0]
    added_p50 = summary["ours"][1] - summary["direct"][1]
    print(f"ours/chp {vs_chp:.2f}x  ours/direct {vs_direct:.3f}x  added p50 {added_p50:.3f} ms "
          "(p95 is not printed by wrk; p90/p99 shown)")  # fmt: skip
    ok = vs_chp >= 1.0
    print(f"RESULT proxy_http ratio_vs_chp={vs_chp:.2f} target>=1.0 {'PASS' if ok else 'SHORT'}")
    return 0
