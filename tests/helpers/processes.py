"""Child processes of tests that never outlive the test: each runs in its own process group.

A Celery worker started with `-B` forks its beat, gunicorn forks workers: signalling only the
process a test started leaves those children orphaned when it is killed. `spawn` starts the
child as the leader of a new process group and `stop` signals the leader, waits for it, then
kills whatever is left of its group and waits until the group is empty.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any


def spawn(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    stdout: IO[Any] | int | None = None,
    stderr: IO[Any] | int | None = None,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(args), cwd=cwd, env=env, stdout=stdout, stderr=stderr, start_new_session=True
    )


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state, ppid, pgrp
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def group_kill(pgid: int, *, timeout: float = 10.0) -> None:
    """SIGKILL every process of the group and wait until none is left."""
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def stop(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, *, timeout: float = 20.0
) -> int:
    """Send `sig` to the process, wait up to `timeout` (then SIGKILL), reap its group."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait(timeout=10)
    group_kill(process.pid)
    return code


def run(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(capture_output=True, text=True)` in a new process group: on a timeout the
    whole group is killed (the official client's `session ssh` leaves its app proxy behind
    otherwise) before `TimeoutExpired` is raised."""
    process = subprocess.Popen(
        list(args),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        group_kill(process.pid)
        process.communicate()
        raise
    group_kill(process.pid)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
