"""Shared helpers for benchmarks that need a live platform on a throwaway database.

`throwaway_database(name)` creates and migrates `bench_<name>` next to the development database
(the way `scheduler_plan` does) and drops it afterwards; `LiveStack` starts the roles the way
`scripts/run.sh` serves them in production (gunicorn with uvicorn workers, the Celery manager
worker with beat, the batch worker, one agent on the local Docker engine) against that database
and an isolated Redis database, and stops them afterwards. Also: signed request headers, a tiny
HTTP client, percentiles.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_REDIS_DB = 13
KERNEL_IMAGE = "backendai/python:3.11-debian"


# -- Django and the throwaway database -------------------------------------------------------------


def setup_django(*, redis_db: int = BENCH_REDIS_DB) -> None:
    """Local services (devservices), an isolated Redis database, then `django.setup()`."""
    from backendai_site.config import load_config
    from backendai_site.devservices import service_env

    env = service_env(load_config().data_dir)
    env["REDIS_URL"] = env["REDIS_URL"].rsplit("/", 1)[0] + f"/{redis_db}"
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backendai_site.settings")
    os.environ.setdefault("BAI_LOG_LEVEL", "WARNING")
    import django
    from django.conf import settings

    # the harness's own threads (20 at once for session_burst) never close their connections:
    # plain connections, not a pool they would exhaust (the servers it starts keep their pools)
    settings.DATABASES["default"]["OPTIONS"].pop("pool", None)
    django.setup()
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()


@contextlib.contextmanager
def throwaway_database(name: str) -> Iterator[str]:
    """Create and migrate `bench_<name>`, switch this process to it, yield its URL, drop it."""
    from django.conf import settings
    from django.db import connection

    from backendai_site.devservices import database_url_from_settings

    settings.DATABASES["default"]["TEST"]["NAME"] = f"bench_{name}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield database_url_from_settings(connection.settings_dict)
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


@dataclass(frozen=True)
class Owner:
    access_key: str
    secret_key: str


def owner_create(email: str) -> Owner:
    """A user in the default domain and project with a keypair that no benchmark rate-limits."""
    from backendai_site.accounts.services import default_tenancy_ensure, keypair_issue, user_create

    defaults = default_tenancy_ensure()
    user = user_create(
        email=email, password="bench-123456", domain=defaults.domain, projects=[defaults.project]
    )
    issued = keypair_issue(user=user, rate_limit=10**9)
    return Owner(access_key=issued.keypair.access_key, secret_key=issued.secret_key)


# -- requests ----------------------------------------------------------------------------------


def signed_headers(
    owner: Owner, *, method: str, rel_url: str, host: str, content_type: str
) -> dict[str, str]:
    """HTTP headers of a request signed the way the official client signs it (COMPAT.md 2.3)."""
    from backendai_site.accounts.auth.signing import sign_request
    from backendai_site.config import API_VERSION

    date = datetime.now(UTC)
    raw_date = date.isoformat()
    signature = sign_request(
        secret_key=owner.secret_key, method=method, rel_url=rel_url, raw_date=raw_date,
        request_date=date, host=host, content_type=content_type, api_version=API_VERSION,
    )  # fmt: skip
    return {
        "Date": raw_date,
        "X-BackendAI-Version": API_VERSION,
        "Authorization": f"BackendAI signMethod=HMAC-SHA256, credential={owner.access_key}:"
        f"{signature}",
        "Content-Type": content_type,
    }


def http_call(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 300,
) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


class ApiClient:
    """Signed calls to the web role as one owner."""

    def __init__(self, base_url: str, owner: Owner) -> None:
        self.base_url = base_url
        self.host = base_url.split("://", 1)[1]
        self.owner = owner

    def call(
        self, method: str, rel_url: str, payload: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        content_type = "application/json" if payload is not None else "text/plain"
        headers = signed_headers(
            self.owner, method=method, rel_url=rel_url, host=self.host, content_type=content_type
        )
        body = json.dumps(payload).encode() if payload is not None else None
        status, raw = http_call(self.base_url + rel_url, method=method, headers=headers, body=body)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")


def session_create_body(name: str, resources: dict[str, str]) -> dict[str, Any]:
    """What the official client's `session create` sends (COMPAT.md 4.1), blocking until RUNNING."""
    return {
        "tag": None,
        "name": name,
        "config": {
            "mounts": [], "mount_ids": [], "environ": {}, "resources": resources,
            "resource_opts": {}, "scalingGroup": None, "attach_network": None, "mount_map": {},
            "mount_id_map": {}, "mount_options": {}, "preopen_ports": None,
        },
        "dependencies": [], "callback_url": None, "architecture": "x86_64", "clusterSize": 1,
        "clusterMode": "single-node", "starts_at": None, "bootstrap_script": None,
        "owner_access_key": None, "domain": "default", "group": "default",
        "type": "interactive", "enqueueOnly": False, "maxWaitSeconds": 0,
        "reuseIfExists": True, "startupCommand": None, "image": KERNEL_IMAGE,
    }  # fmt: skip


# -- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def bin_path(name: str) -> str:
    """A console script of this virtual environment."""
    return str(Path(sys.executable).parent / name)


@dataclass
class LiveStack:
    """Platform roles as subprocesses on this process's (throwaway) database."""

    database_url: str
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bai-bench-")))
    port: int = field(default_factory=free_port)
    agent_id: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "BAI_LOG_JSON": "false",
            "BAI_LOG_LEVEL": "WARNING",
        }

    def spawn(self, name: str, args: Sequence[str], extra: dict[str, str] | None = None) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            list(args), cwd=REPO_ROOT, env={**self.env, **(extra or {})}, stdout=log, stderr=log,
            start_new_session=True,  # its own process group: stop() reaps forked children too
        )  # fmt: skip

    def start_web(self, *, workers: int = 2, extra: dict[str, str] | None = None) -> None:
        """The web role as production serves it (scripts/run.sh): gunicorn + uvicorn workers."""
        self.spawn(
            "web",
            [bin_path("gunicorn"), "backendai_site.asgi:application",
             "-k", "backendai_site.workers.WebWorker", "-b", f"127.0.0.1:{self.port}",
             "-w", str(workers), "--graceful-timeout", "5"],
            extra,
        )  # fmt: skip

    def start_workers(self) -> None:
        """The manager worker (queues manager,events) with embedded beat, and the batch worker."""
        celery = bin_path("celery")
        self.spawn("manager", [celery, "-A", "backendai_site", "worker", "-B",
                               "-s", str(self.tmp / "beat"), "-Q", "manager,events",
                               "-n", f"manager-bench-{self.port}@%h", "--without-mingle",
                               "--without-gossip", "-l", "WARNING"])  # fmt: skip
        self.spawn("batch", [celery, "-A", "backendai_site", "worker", "-Q", "batch",
                             "-P", "threads", "-c", "8", "-n", f"batch-bench-{self.port}@%h",
                             "--without-mingle", "--without-gossip", "-l", "WARNING"])  # fmt: skip

    def start_agent(self, agent_id: str, extra: dict[str, str]) -> None:
        self.agent_id = agent_id
        self.spawn(
            "agent",
            [sys.executable, "manage.py", "run_agent"],
            {
                "BAI_AGENT_ID": agent_id,
                "BAI_AGENT_HEARTBEAT_INTERVAL": "1",
                "BAI_AGENT_SCRATCH_ROOT": str(self.tmp / "scratch"),
                **extra,
            },
        )

    def wait_web(self, timeout: float = 60) -> None:
        def up() -> bool:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.logs()}")
            try:
                http_call(self.url + "/", timeout=1)
                return True
            except OSError:
                return False

        wait_for(up, timeout, "the web role", interval=0.2)

    def wait_agent(self, timeout: float = 90) -> None:
        from agents_app.enums import AgentStatus
        from agents_app.models import Agent
        from agents_app.selectors import image_resolve

        wait_for(
            lambda: Agent.objects.filter(pk=self.agent_id, status=AgentStatus.ALIVE).exists(),
            timeout, "the agent to register", interval=0.3,
        )  # fmt: skip
        wait_for(
            lambda: image_resolve(ref_or_alias=KERNEL_IMAGE) is not None,
            timeout, "the kernel image in the catalog", interval=0.3,
        )  # fmt: skip

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-tail:]}"
            for path in sorted(self.tmp.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with contextlib.suppress(ProcessLookupError):  # an embedded beat, a pool child
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()
        if self.agent_id:
            remove_containers(f"ai.backend.agent-id={self.agent_id}")
        shutil.rmtree(self.tmp, ignore_errors=True)


def remove_containers(label: str) -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


def docker_ready() -> None:
    """Docker answers and the kernel image exists (building neither: say what to run)."""
    if (
        shutil.which("docker") is None
        or subprocess.run(
            ["docker", "info"], capture_output=True, check=False, timeout=60
        ).returncode
    ):
        raise SystemExit("Docker is not available: run scripts/ensure_docker.sh")
    if subprocess.run(
        ["docker", "image", "inspect", KERNEL_IMAGE], capture_output=True, check=False
    ).returncode:
        raise SystemExit(f"{KERNEL_IMAGE} is missing: run scripts/build_kernel_image.sh")


# -- statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "SHORT"
