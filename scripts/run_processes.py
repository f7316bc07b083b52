"""The processes one run of scripts/test.sh started, found by a token in their environment.

test.sh exports `BAI_TEST_RUN_TOKEN` before it starts anything, so every process the run starts
(devservices' embedded PostgreSQL, a dockerd that ensure_docker.sh started,
a Celery worker or server a test spawned, and their children) carries it, while the machine's own
PostgreSQL, Redis or dockerd, running before, do not.

    python scripts/run_processes.py stop-services   # stop the services this run started
    python scripts/run_processes.py check           # list what is left, kill it, exit 1 if any
    python scripts/run_processes.py redis-up [PORT]     # exit 0 when a Redis answers on loopback
    python scripts/run_processes.py stop-redis [PORT]   # SHUTDOWN NOSAVE the Redis on loopback

redis-server rewrites its process title over its environment, so a redis-server the run started
cannot be told by the token: test.sh asks `redis-up` before devservices runs and, when none
answered then, `stop-redis` at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN_VAR = "BAI_TEST_RUN_TOKEN"
# service binaries the run may start on purpose, and the signal that stops each one cleanly
SERVICE_SIGNALS = {
    "postgres": signal.SIGINT,  # the postmaster's fast shutdown
    "dockerd": signal.SIGTERM,
}
STOP_TIMEOUT = 60.0
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    ppid: int
    name: str
    cmdline: str


def _ancestors() -> set[int]:
    pids = {os.getpid()}
    pid = os.getpid()
    while pid > 1:
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
        pids.add(pid)
    return pids


def tagged(token: str) -> list[Proc]:
    """Live processes whose environment carries the token (this script and its callers aside)."""
    needle = f"{TOKEN_VAR}={token}".encode()
    skip = _ancestors()
    found: list[Proc] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
            fields = tail.split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] == "Z":
            continue
        name = head.split("(", 1)[1]
        found.append(Proc(int(entry.name), int(fields[1]), name, cmdline.strip()))
    return sorted(found, key=lambda proc: proc.pid)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already
        os.kill(pid, sig)


def stop_services(token: str) -> list[Proc]:
    """Stop the top process of each service this run started; wait until they are gone."""
    procs = tagged(token)
    names = {proc.pid: proc.name for proc in procs}
    # the top of each service's tree: the postmaster, not its backends and workers
    services = [
        proc for proc in procs if proc.name in SERVICE_SIGNALS and names.get(proc.ppid) != proc.name
    ]
    for proc in services:
        print(f"stopping {proc.name} (pid {proc.pid}), started by this run", file=sys.stderr)
        _signal(proc.pid, SERVICE_SIGNALS[proc.name])
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        alive = {proc.pid for proc in tagged(token)}
        if not any(proc.pid in alive for proc in services):
            break
        time.sleep(0.2)
    return services


def check(token: str) -> int:
    """List and kill the run's leftover processes; 1 when there was one."""
    time.sleep(0.5)  # a process that is exiting right now is not a leftover
    left = tagged(token)
    if not left:
        return 0
    print(f"error: {len(left)} process(es) started by this run are still running:", file=sys.stderr)
    for proc in left:
        print(f"  pid {proc.pid} (parent {proc.ppid}): {proc.cmdline[:200]}", file=sys.stderr)
    for proc in left:
        _signal(proc.pid, signal.SIGKILL)
    return 1


def _redis_command(port: int, command: bytes) -> bytes | None:
    """Send one inline command to the Redis on loopback; its reply, or None when none answers."""
    try:
        with socket.create_connection((REDIS_HOST, port), timeout=2) as sock:
            sock.sendall(command + b"\r\n")
            return sock.recv(64)
    except OSError:
        return None


def redis_up(port: int) -> bool:
    reply = _redis_command(port, b"PING")
    return reply is not None and reply.startswith(b"+PONG")


def stop_redis(port: int) -> bool:
    """Shut the Redis on `port` down (without saving); True once it no longer answers."""
    print(f"stopping redis-server on port {port}, started by this run", file=sys.stderr)
    _redis_command(port, b"SHUTDOWN NOSAVE")
    deadline = time.monotonic() + STOP_TIMEOUT
    while redis_up(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not redis_up(port)


def main(argv: list[str]) -> int:
    if argv[:1] in (["redis-up"], ["stop-redis"]) and len(argv) <= 2:
        port = int(argv[1]) if len(argv) == 2 else REDIS_PORT
        return 0 if (redis_up if argv[0] == "redis-up" else stop_redis)(port) else 1
    token = os.environ.get(TOKEN_VAR, "")
    if len(argv) != 1 or argv[0] not in ("stop-services", "check") or not token:
        print(
            f"usage: {TOKEN_VAR}=... run_processes.py stop-services|check, "
            "or run_processes.py redis-up|stop-redis [PORT]",
            file=sys.stderr,
        )
        return 2
    if argv[0] == "stop-services":
        stop_services(token)
        return 0
    return check(token)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
