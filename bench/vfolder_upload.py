"""`vfolder_upload` (BENCHMARKS.md): a 1 GiB upload with the official client (tus, 16 MiB chunks).

A: `backend.ai vfolder upload benchvf big.bin` against the web role (gunicorn + uvicorn workers,
   as scripts/run.sh serves it), timed around the command (client start-up included).
B: `dd if=big.bin of=<same volume>/dd.bin bs=1M conv=fsync`.
Rounds alternate A, B; `sync` before each; the uploaded file and dd's copy are removed between
rounds. Ratio = median(B seconds) / median(A seconds) (A's throughput relative to dd's), target
>= 0.5.

    python -m bench vfolder_upload [--size-mib 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from bench._stack import verdict
from bench._vfolder import FOLDER, client_startup, drop_caches, make_file, token, transfer_bench

TARGET = 0.5


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench vfolder_upload")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    size = args.size_mib * 1024 * 1024
    a_times: list[float] = []
    b_times: list[float] = []
    with transfer_bench("vfolder_upload") as bench:
        source = bench.work / "big.bin"
        make_file(source, size)
        for round_no in range(args.rounds):
            drop_caches()
            a = bench.client("vfolder", "upload", FOLDER, "big.bin")
            uploaded = bench.folder_root / "big.bin"
            if uploaded.stat().st_size != size:
                raise RuntimeError("the upload is incomplete")
            uploaded.unlink()
            drop_caches()
            target = bench.volume_path / "dd.bin"
            started = time.perf_counter()
            subprocess.run(
                ["dd", f"if={source}", f"of={target}", "bs=1M", "conv=fsync"],
                check=True, capture_output=True,
            )  # fmt: skip
            b = time.perf_counter() - started
            target.unlink()
            a_times.append(a)
            b_times.append(b)
            mib = size / 1024 / 1024
            print(
                f"round {round_no + 1}: client upload {a:.2f} s ({mib / a:.0f} MiB/s), "
                f"dd {b:.2f} s ({mib / b:.0f} MiB/s)"
            )
        startup = client_startup(bench)
        # informational: the same bytes in one streamed PATCH from curl (no Python client)
        tok, url = token(bench, "upload", {"path": "curl.bin", "size": size})
        drop_caches()
        started = time.perf_counter()
        subprocess.run(
            ["curl", "-sf", "-X", "PATCH", "-T", str(source), "-H", "Upload-Offset: 0",
             "-H", "Tus-Resumable: 1.0.0", "-H", "Content-Type: application/offset+octet-stream",
             f"{url}?token={tok}"],
            check=True,
        )  # fmt: skip
        curl_time = time.perf_counter() - started
    a_med, b_med = statistics.median(a_times), statistics.median(b_times)
    ratio = b_med / a_med
    print(f"median: upload {a_med:.2f} s, dd {b_med:.2f} s ({args.size_mib} MiB, 1 client)")
    print(
        f"context: the client's fixed start-up (vfolder list-hosts) {startup:.2f} s; "
        f"curl PATCH of the same file to our endpoint {curl_time:.2f} s"
    )
    print(f"RESULT vfolder_upload ratio={ratio:.3f} target>={TARGET} {verdict(ratio >= TARGET)}")
    return 0
