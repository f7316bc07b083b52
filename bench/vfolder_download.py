"""`vfolder_download` (BENCHMARKS.md): a 1 GiB download with the official client.

A: `backend.ai vfolder download benchvf big.bin` from the web role (gunicorn + uvicorn workers),
   into an empty directory, timed around the command (client start-up included).
B: `curl -o` of the same file from nginx (Debian's package, installed when missing; `sendfile
   on`) serving the folder's directory on the same box.
Both write the file to the same disk; rounds alternate A, B with `sync` before each. The file is
in the page cache for both. Ratio = median(B seconds) / median(A seconds), target >= 0.7.

    python -m bench vfolder_download [--size-mib 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench._stack import free_port, verdict, wait_for
from bench._vfolder import FOLDER, client_startup, drop_caches, make_file, token, transfer_bench

TARGET = 0.7
NGINX_CONF = """
daemon off;
worker_processes 1;
error_log {prefix}/error.log;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def ensure_nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit("nginx is missing: apt-get install nginx-light")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx-light"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    return shutil.which("nginx") or "/usr/sbin/nginx"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench vfolder_download")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    size = args.size_mib * 1024 * 1024
    nginx = ensure_nginx()
    a_times: list[float] = []
    b_times: list[float] = []
    with transfer_bench("vfolder_download") as bench:
        make_file(bench.folder_root / "big.bin", size)
        prefix = bench.work.parent / "nginx"
        (prefix / "tmp").mkdir(parents=True)
        port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, root=bench.folder_root))
        server = subprocess.Popen([nginx, "-c", str(conf), "-p", str(prefix)])
        try:
            url = f"http://127.0.0.1:{port}/big.bin"
            wait_for(
                lambda: subprocess.run(["curl", "-sfI", url], capture_output=True).returncode == 0,
                20, "nginx",
            )  # fmt: skip
            for round_no in range(args.rounds):
                target_dir = bench.work / f"dl{round_no}"
                target_dir.mkdir()
                drop_caches()
                a = bench.client("vfolder", "download", FOLDER, "big.bin", cwd=target_dir)
                if (target_dir / "big.bin").stat().st_size != size:
                    raise RuntimeError("the download is incomplete")
                shutil.rmtree(target_dir)
                drop_caches()
                out = bench.work / "curl.bin"
                started = time.perf_counter()
                subprocess.run(["curl", "-sf", "-o", str(out), url], check=True)
                b = time.perf_counter() - started
                out.unlink()
                a_times.append(a)
                b_times.append(b)
                mib = size / 1024 / 1024
                print(
                    f"round {round_no + 1}: client download {a:.2f} s ({mib / a:.0f} MiB/s), "
                    f"nginx+curl {b:.2f} s ({mib / b:.0f} MiB/s)"
                )
            startup = client_startup(bench)
            # informational: curl of the same file from our transfer endpoint
            tok, ours = token(bench, "download", {"path": "big.bin"})
            out = bench.work / "ours.bin"
            drop_caches()
            started = time.perf_counter()
            subprocess.run(["curl", "-sf", "-o", str(out), f"{ours}?token={tok}"], check=True)
            curl_ours = time.perf_counter() - started
            out.unlink()
        finally:
            server.terminate()
            server.wait(timeout=10)
    a_med, b_med = statistics.median(a_times), statistics.median(b_times)
    ratio = b_med / a_med
    print(f"median: client {a_med:.2f} s, nginx+curl {b_med:.2f} s ({args.size_mib} MiB, 1 client)")
    print(
        f"context: the client's fixed start-up (vfolder list-hosts) {startup:.2f} s; "
        f"curl from our transfer endpoint {curl_ours:.2f} s"
    )
    print(f"RESULT vfolder_download ratio={ratio:.3f} target>={TARGET} {verdict(ratio >= TARGET)}")
    return 0
