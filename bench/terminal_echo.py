"""Keystroke to echoed byte through the `/stream/session/<id>/pty` websocket, against the raw
round trip to the runner's PTY (pty-write over the runner protocol, echo back), interleaved."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import statistics
import time

from websockets.asyncio.client import connect

from bench._interactive import BenchSession, bench_session
from bench._stack import percentile, verdict


async def measure(bs: BenchSession, samples: int, warmup: int) -> tuple[list[float], list[float]]:
    from agents_app.kernel_runner.client import RunnerClient

    ours: list[float] = []
    raw: list[float] = []
    async with (
        connect(bs.ws_url("pty"), additional_headers=bs.ws_headers("pty")) as ws,
        RunnerClient("127.0.0.1", bs.runner_port, bs.runner_secret) as runner,
    ):
        handle = await runner.pty_open(command=["/bin/sh"])
        await asyncio.sleep(1.0)  # let both shells print their prompts
        while not handle.output.empty():
            handle.output.get_nowait()
        with_timeout = asyncio.timeout
        for i in range(warmup + samples):
            key = b"x"
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "stdin", "chars": base64.b64encode(key).decode()}))
            async with with_timeout(5):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "out" and key in base64.b64decode(frame["data"]):
                        break
            ours_elapsed = time.perf_counter() - started
            started = time.perf_counter()
            await handle.write(key)
            async with with_timeout(5):
                while key not in (await handle.read() or b"x"):
                    pass
            raw_elapsed = time.perf_counter() - started
            if i >= warmup:
                ours.append(ours_elapsed)
                raw.append(raw_elapsed)
            if i % 50 == 49:  # keep the line short: erase it (^U) on both
                erase = base64.b64encode(b"\x15").decode()
                await ws.send(json.dumps({"type": "stdin", "chars": erase}))
                await handle.write(b"\x15")
                await asyncio.sleep(0.05)
                while not handle.output.empty():
                    handle.output.get_nowait()
                with contextlib.suppress(TimeoutError):
                    while True:
                        await asyncio.wait_for(ws.recv(), 0.05)
    return ours, raw


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench terminal_echo")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(argv)
    with bench_session("terminal_echo") as bs:
        ours, raw = asyncio.run(measure(bs, args.samples, args.warmup))
    for label, values in (("pty websocket", ours), ("raw runner PTY", raw)):
        print(
            f"{label}: p50 {statistics.median(values) * 1000:.2f} ms, p95 "
            f"{percentile(values, 95) * 1000:.2f} ms, p99 {percentile(values, 99) * 1000:.2f} ms "
            f"(n={len(values)})"
        )
    ratio = statistics.median(ours) / statistics.median(raw)
    p99_ms = percentile(ours, 99) * 1000
    print(f"RESULT terminal_echo p50_ratio={ratio:.3f} target<=3 {verdict(ratio <= 3)}")
    print(f"RESULT terminal_echo p99_ms={p99_ms:.2f} target<=20 {verdict(p99_ms <= 20)}")
    return 0
