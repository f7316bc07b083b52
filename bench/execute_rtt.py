"""`print(1)` round trip through the execute websocket (what `backend.ai run` opens per run:
handshake, signature check, session lookup, runner connection, execute, close) and through REST
execute, against (a) `docker exec <ctr> python3 -c 'print(1)'` and (b) a raw round trip to the
runner's own published port (connect, authenticate, execute, close), interleaved in one run."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import time

from websockets.asyncio.client import connect

from bench._interactive import BenchSession, bench_session
from bench._stack import percentile, verdict


async def ws_once(bs: BenchSession) -> float:
    started = time.perf_counter()
    async with connect(bs.ws_url("execute"), additional_headers=bs.ws_headers("execute")) as ws:
        await ws.send(json.dumps({"code": "print(1)", "mode": "query", "options": {}}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["status"] == "finished":
                break
    elapsed = time.perf_counter() - started
    assert frame["console"] == [["stdout", "1\n"]], frame
    return elapsed


def rest_once(bs: BenchSession) -> float:
    started = time.perf_counter()
    status, reply = bs.api.call(
        "POST", f"/session/{bs.session_id}", {"mode": "query", "code": "print(1)", "runId": None}
    )
    elapsed = time.perf_counter() - started
    assert status == 200 and reply["result"]["status"] == "finished", reply
    return elapsed


async def runner_once(bs: BenchSession) -> float:
    from agents_app.kernel_runner.client import RunnerClient

    started = time.perf_counter()
    async with RunnerClient("127.0.0.1", bs.runner_port, bs.runner_secret) as runner:
        result = await runner.execute("print(1)")
    elapsed = time.perf_counter() - started
    assert result.finished and result.stdout == "1\n", result
    return elapsed


def docker_once(bs: BenchSession) -> float:
    started = time.perf_counter()
    out = subprocess.run(
        ["docker", "exec", bs.container_id, "python3", "-c", "print(1)"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    elapsed = time.perf_counter() - started
    assert out == b"1\n"
    return elapsed


def line(label: str, values: list[float]) -> str:
    return (
        f"{label}: p50 {statistics.median(values) * 1000:.2f} ms, "
        f"p95 {percentile(values, 95) * 1000:.2f} ms (n={len(values)})"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench execute_rtt")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    ws: list[float] = []
    rest: list[float] = []
    raw: list[float] = []
    dock: list[float] = []
    with bench_session("execute_rtt") as bs:
        for i in range(args.warmup + args.samples):
            samples = (
                asyncio.run(ws_once(bs)), rest_once(bs), asyncio.run(runner_once(bs)),
                docker_once(bs),
            )  # fmt: skip
            if i >= args.warmup:
                for bucket, value in zip((ws, rest, raw, dock), samples, strict=True):
                    bucket.append(value)
    print(line("execute websocket (signed handshake + run + close)", ws))
    print(line("REST execute POST /session/{id}", rest))
    print(line("(b) raw runner round trip (connect + auth + execute)", raw))
    print(line("(a) docker exec python3 -c 'print(1)'", dock))
    ws_p50 = statistics.median(ws)
    vs_docker = ws_p50 / statistics.median(dock)
    vs_runner = ws_p50 / statistics.median(raw)
    rest_vs_runner = statistics.median(rest) / statistics.median(raw)
    print(f"REST p50 / raw runner p50 = {rest_vs_runner:.2f}")
    print(f"RESULT execute_rtt ws_vs_docker_exec_p50={vs_docker:.3f} target<=0.1 "
          f"{verdict(vs_docker <= 0.1)}")  # fmt: skip
    print(f"RESULT execute_rtt ws_vs_raw_runner_p50={vs_runner:.3f} target<=3 "
          f"{verdict(vs_runner <= 3)}")  # fmt: skip
    return 0
