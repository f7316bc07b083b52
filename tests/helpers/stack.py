"""The whole platform started as real processes for the integration tests, and what drives it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.db import connection

from agents_app.selectors import image_resolve
from backendai_site.config import get_config
from backendai_site.devservices import database_url_from_settings
from tests.helpers import processes
from tests.helpers.credentials import Credentials
from tests.helpers.paths import REPO_ROOT

STACK_REDIS_DBS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15)  # 13: the two-agent test's


@contextlib.contextmanager
def reserved_redis_db() -> Iterator[int]:
    """An isolated Redis database for one stack, reserved in db 0 so concurrent test runs on one
    machine never share Celery queues (a shared `events` queue would hand one stack's
    heartbeats to another stack's worker)."""
    base = redis.Redis.from_url(get_config().redis_url)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    for _ in range(120):
        for db in STACK_REDIS_DBS:
            if base.set(f"bai:test:stack-db:{db}", token, nx=True, ex=1800):
                try:
                    yield db
                finally:
                    if base.get(f"bai:test:stack-db:{db}") == token.encode():
                        base.delete(f"bai:test:stack-db:{db}")
                return
        time.sleep(1)
    raise RuntimeError("no free Redis database for a test stack")


def require(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(reason)


KERNEL_IMAGE = "backendai/python:3.11-debian"


def require_docker_and_kernel_image() -> None:
    """Skip (fail under CI=true) unless the Docker engine answers and the kernel image is built."""
    require(shutil.which("docker") is not None, "the docker CLI is not installed")
    info = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False)
    require(info.returncode == 0, "the Docker engine is not running")
    image = subprocess.run(
        ["docker", "image", "inspect", KERNEL_IMAGE], capture_output=True, check=False
    )
    require(image.returncode == 0, "the kernel image is missing (scripts/build_kernel_image.sh)")


def roles_env(redis_url: str, overrides: dict[str, str]) -> dict[str, str]:
    """The environment every role of a test stack shares: the pytest database, the stack's own
    Redis database, plain-text logs and a LOST timeout short enough for a test."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_from_settings(connection.settings_dict),
        "REDIS_URL": redis_url,
        "BAI_LOG_JSON": "false",
        "BAI_AGENTS_LOST_TIMEOUT": "30",
        "BAI_AGENTS_SWEEP_INTERVAL": "3",
        **overrides,
    }


@dataclass
class Stack:
    url: str
    agent_id: str
    env: dict[str, str]
    tmp: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)

    def spawn(self, name: str, args: list[str], extra: dict[str, str] | None = None) -> None:
        self.commands[name] = (args, dict(extra or {}))
        log = (self.tmp / f"{name}.log").open("ab")
        self.processes[name] = processes.spawn(
            args, cwd=REPO_ROOT, env={**self.env, **(extra or {})}, stdout=log, stderr=log
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal the role's whole process group (a worker's forked beat and pool included) and
        reap it: `kill -9` of a role as an operator's crash would do it."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        return processes.stop(process, timeout=20)

    def restart(self, name: str) -> None:
        """Start the role again with the command and environment it was first spawned with."""
        if name in self.processes:
            self.kill(name, signal.SIGTERM)
        args, extra = self.commands[name]
        self.spawn(name, args, extra)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.tmp.glob("*.log"))
        )

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            processes.stop(process)
        self.processes.clear()


# -- the roles' command lines, shared by every stack that starts them --------------------------


def web_command(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "backendai_site.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]  # fmt: skip


def manager_command(node_name: str, beat_schedule: Path | None) -> list[str]:
    """A manager worker on `manager,events`; with `beat_schedule` it embeds beat (`-B`), which
    exactly one worker of a platform must do."""
    beat = ["-B", "-s", str(beat_schedule)] if beat_schedule is not None else []
    return [sys.executable, "-m", "celery", "-A", "backendai_site", "worker", *beat,
            "-Q", "manager,events", "-P", "threads", "-c", "4", "-n", f"{node_name}@%h",
            "--without-mingle", "--without-gossip", "-l", "INFO"]  # fmt: skip


def batch_command(node_name: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "backendai_site", "worker", "-Q", "batch",
            "-P", "threads", "-c", "4", "-n", f"{node_name}@%h",
            "--without-mingle", "--without-gossip", "-l", "INFO"]  # fmt: skip


AGENT_COMMAND = [sys.executable, "manage.py", "run_agent"]


def agent_env(
    agent_id: str, *, capacity: dict[str, str], scratch_root: Path, port_range: tuple[int, int]
) -> dict[str, str]:
    """The environment of one agent daemon; two agents on one machine differ in all of these."""
    return {
        "BAI_AGENT_ID": agent_id,
        "BAI_AGENT_HEARTBEAT_INTERVAL": "1",
        "BAI_AGENT_CAPACITY": json.dumps(capacity),
        "BAI_AGENT_SCRATCH_ROOT": str(scratch_root),
        "BAI_AGENT_PORT_RANGE": json.dumps(list(port_range)),
    }


def web_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/", timeout=1):
            return True
    except OSError:
        return False


def agent_containers_remove(agent_id: str) -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=ai.backend.agent-id={agent_id}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


def images_known(agent_id: str) -> bool:
    """The agent's local images reached the catalog by themselves (on agent start)."""
    return image_resolve(ref_or_alias="python") is not None


def client_env(client: Path, stack: Stack, creds: Credentials, home: Path) -> dict[str, str]:
    return {
        "PATH": f"{client.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "BACKEND_ENDPOINT": stack.url,
        "BACKEND_ENDPOINT_TYPE": "api",
        "BACKEND_ACCESS_KEY": creds.access_key,
        "BACKEND_SECRET_KEY": creds.secret_key,
    }
