"""Bytes/s through `/stream/session/<id>/tcpproxy?app=http` (what `backend.ai app` opens per
TCP connection) against direct TCP to the app's published port: the same HTTP/1.0 GET of a
32 MiB file from the image's http app (python http.server), alternating, one stream at a time
(concurrency 1). The client of both is Python (websockets without permessage-deflate, like the
official client / asyncio streams); its own ceiling is measured against a bare uvicorn source."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from websockets.asyncio.client import connect

from bench._interactive import BenchSession, bench_session
from bench._stack import verdict

SIZE = 32 * 1024 * 1024
REQUEST = b"GET /blob.bin HTTP/1.0\r\nHost: bench\r\n\r\n"


async def prepare(bs: BenchSession) -> None:
    from agents_app.kernel_runner.client import RunnerClient

    async with RunnerClient("127.0.0.1", bs.runner_port, bs.runner_secret) as runner:
        blob = os.urandom(SIZE)
        for offset in range(0, SIZE, 4 * 1024 * 1024):
            await runner.file_write("blob.bin", blob[offset : offset + 4 * 1024 * 1024],
                                    append=offset > 0)  # fmt: skip
        await runner.start_service("http")


async def direct_once(bs: BenchSession) -> tuple[float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", bs.host_ports["http"])
    writer.write(REQUEST)
    total = 0
    while chunk := await reader.read(256 * 1024):
        total += len(chunk)
    writer.close()
    return time.perf_counter() - started, total


async def proxied_once(bs: BenchSession) -> tuple[float, int]:
    started = time.perf_counter()
    total = 0
    async with connect(
        bs.ws_url("tcpproxy", "app=http"), additional_headers=bs.ws_headers("tcpproxy", "app=http"),
        max_size=None, compression=None,
    ) as ws:  # fmt: skip
        # No permessage-deflate: the official client (aiohttp ws_connect) never offers it, and
        # websockets' default would deflate random bytes on both ends (measured 17 MB/s).
        await ws.send(REQUEST)
        async for message in ws:
            total += len(message)
    return time.perf_counter() - started, total


async def client_ceiling(port: int) -> float:
    """Bytes/s the benchmark's websocket client reads from a bare uvicorn source (1 MiB frames):
    it must be well above the proxied figure, or the client is what is measured."""
    started = time.perf_counter()
    total = 0
    async with connect(f"ws://127.0.0.1:{port}/", max_size=None, compression=None) as ws:
        await ws.send(b"go")
        async for message in ws:
            total += len(message)
    return total / (time.perf_counter() - started)


def client_ceiling_median(samples: int) -> float:
    import socket
    import threading

    import uvicorn

    block = os.urandom(1024 * 1024)

    async def source(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        for _ in range(SIZE // len(block)):
            await send({"type": "websocket.send", "bytes": block})
        await send({"type": "websocket.close", "code": 1000})

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(source, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        return statistics.median(asyncio.run(client_ceiling(port)) for _ in range(samples))
    finally:
        server.should_exit = True
        thread.join(5)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench tcpproxy")
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args(argv)
    direct: list[float] = []
    proxied: list[float] = []
    with bench_session("tcpproxy") as bs:
        asyncio.run(prepare(bs))
        asyncio.run(proxied_once(bs))  # warm-up (starts nothing new: the app already runs)
        for _ in range(args.samples):
            seconds, size = asyncio.run(direct_once(bs))
            assert size > SIZE, size
            direct.append(size / seconds)
            seconds, size = asyncio.run(proxied_once(bs))
            assert size > SIZE, size
            proxied.append(size / seconds)
    ceiling = client_ceiling_median(5)
    d, p = statistics.median(direct), statistics.median(proxied)
    print(f"direct TCP to the published port: median {d / 1e6:.0f} MB/s (n={len(direct)}, c=1)")
    print(f"through tcpproxy websocket: median {p / 1e6:.0f} MB/s (n={len(proxied)}, c=1)")
    print(f"client ceiling (same client, bare uvicorn source in this process): "
          f"median {ceiling / 1e6:.0f} MB/s")  # fmt: skip
    ratio = p / d
    print(f"RESULT tcpproxy throughput_ratio={ratio:.3f} target>=0.5 {verdict(ratio >= 0.5)}")
    return 0
