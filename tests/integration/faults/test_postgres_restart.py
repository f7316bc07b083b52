"""A PostgreSQL restart under a running platform (issue 10 item 4). The web role, the manager
worker (with its beat) and the agent run on a private PostgreSQL cluster (never the machine's
shared server) migrated with `manage.py migrate`, the superadmin's keypair made by
`manage.py bootstrap` as an operator would. The cluster is killed: signed API calls answer
503 `database-unavailable` with `Retry-After` within a bounded time (never a 500, never a hang);
it is started again on the same port: the same calls answer 200 from the same web process, and a
session created after the recovery reaches RUNNING with the bookkeeping invariants holding."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from agents_app.enums import AgentStatus
from backendai_site.accounts.models import KeyPair, User
from backendai_site.config import get_config
from sessions_app.enums import SessionStatus
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import api, sign
from tests.helpers.net import free_port
from tests.helpers.paths import REPO_ROOT
from tests.helpers.services import PostgresCluster, private_postgres
from tests.helpers.stack import Stack, agent_containers_remove, require, reserved_redis_db
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]
# seconds a client waits: past it the API "hangs". An answer during the outage waits for one
# connection-pool timeout (10 s, settings.py), never two.
CALL_TIMEOUT = 15


@dataclass
class PrivateStack:
    stack: Stack
    cluster: PostgresCluster
    database_url: str
    admin: Credentials

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def bootstrapped_admin(env: dict[str, str]) -> Credentials:
    """The superadmin keypair `manage.py bootstrap` wrote to its credentials file. The ORM
    objects are unsaved stand-ins: only the access and secret keys travel to the client."""
    manage(env, "bootstrap", "--admin-email",
           "pg-restart-admin@example.com")  # fmt: skip
    written = (Path(env["BAI_DATA_DIR"]) / "credentials.env").read_text()
    values = dict(line.split("=", 1) for line in written.splitlines())
    user = User(email="pg-restart-admin@example.com")
    keypair = KeyPair(user=user, access_key=values["BACKEND_ACCESS_KEY"])
    return Credentials(user=user, keypair=keypair, secret_key=values["BACKEND_SECRET_KEY"])


def roles_spawn(stack: Stack, tmp_path: Path) -> None:
    """The web role, the manager worker with its beat and one agent, as `platform_stack` runs
    them (that fixture checks readiness on the pytest database, these roles use another)."""
    py = sys.executable
    port = stack.url.rsplit(":", 1)[1]
    stack.spawn("web", [py, "-m", "uvicorn", "backendai_site.asgi:application",
                        "--host", "127.0.0.1", "--port", port, "--no-access-log"])  # fmt: skip
    stack.spawn("manager", [py, "-m", "celery", "-A", "backendai_site", "worker", "-B",
                            "-s", str(tmp_path / "beat"), "-Q", "manager,events", "-P",
                            "threads", "-c", "4", "-n", f"manager-{stack.agent_id}@%h",
                            "--without-mingle", "--without-gossip", "-l", "INFO"])  # fmt: skip
    stack.spawn("agent", [py, "manage.py", "run_agent"], {
        "BAI_AGENT_ID": stack.agent_id,
        "BAI_AGENT_HEARTBEAT_INTERVAL": "1",
        "BAI_AGENT_CAPACITY": json.dumps({"mem": str(2 * 1024**3)}),
        "BAI_AGENT_SCRATCH_ROOT": str(tmp_path / "scratch"),
        "BAI_AGENT_PORT_RANGE": json.dumps([32200, 32399]),
    })  # fmt: skip


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[PrivateStack]:
    require(shutil.which("docker") is not None, "the docker CLI is not installed")
    info = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False)
    require(info.returncode == 0, "the Docker engine is not running")
    with private_postgres() as cluster, reserved_redis_db() as redis_db:
        database_url = cluster.create_database("backendai")
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": get_config().redis_url.rsplit("/", 1)[0] + f"/{redis_db}",
            "BAI_LOG_JSON": "false",
            # one data folder for every role and manage.py: keypair secrets are encrypted with
            # the secret key kept there
            "BAI_DATA_DIR": str(tmp_path / "data"),
        }
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        manage(env, "migrate", "-v0")
        admin = bootstrapped_admin(env)
        port = free_port()
        agent_id = f"pg-{uuid.uuid4().hex[:8]}"
        stack = Stack(url=f"http://127.0.0.1:{port}", agent_id=agent_id, env=env, tmp=tmp_path)
        roles_spawn(stack, tmp_path)
        private = PrivateStack(stack, cluster, database_url, admin)
        try:
            wait_for(lambda: status_of(private, "GET", "/")[0] == 200, 60, "the web role")
            wait_for(
                lambda: private.query(
                    "SELECT 1 FROM agents_app_agent WHERE id = %s AND status = %s",
                    agent_id, AgentStatus.ALIVE.value,
                ),
                60,
                "the agent to register",
            )  # fmt: skip
            wait_for(
                lambda: private.query("SELECT 1 FROM agents_app_imagealias WHERE alias = 'python'"),
                30,
                "the local kernel image in the catalog",
            )
            yield private
        except Exception:
            print(stack.logs())
            raise
        finally:
            stack.stop_all()
            agent_containers_remove(agent_id)


def status_of(private: PrivateStack, method: str, path: str) -> tuple[int, dict[str, str], Any]:
    """A signed call with a bounded wait: (status, headers, parsed body)."""
    url = private.stack.url + path
    headers = {**sign(private.admin, method, url, "text/plain"), "Content-Type": "text/plain"}
    request = urllib.request.Request(url, data=b"" if method != "GET" else None, method=method,
                                     headers=headers)  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT) as response:
            status, raw, answer_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, answer_headers = exc.code, exc.read(), exc.headers
    except OSError:
        return 0, {}, None  # not listening yet
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw
    return status, {key.lower(): value for key, value in answer_headers.items()}, body


def session_running(private: PrivateStack, cli: Cli, name: str) -> None:
    result = cli(private.stack, private.admin, "session", "create", "python", "-t", name,
                 timeout=90)  # fmt: skip
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{private.stack.logs()}"
    status, body = api(private.stack, private.admin, "GET", f"/session/{name}")
    assert status == 200 and body["status"] == SessionStatus.RUNNING, body


def invariant_violations(private: PrivateStack) -> list[str]:
    """The invariants checked by a process on the private database (the test process's ORM is
    on the pytest database)."""
    code = (
        "import json; from tests.helpers.invariants import invariant_violations; "
        f"print(json.dumps(invariant_violations([{private.stack.agent_id!r}])))"
    )
    out = manage(private.stack.env, "shell", "-c", code)
    problems: list[str] = json.loads(out.strip().splitlines()[-1])
    return problems


class TestPostgresRestart:
    def test_api_answers_503_while_postgres_is_down_and_recovers_alone(
        self, private_stack: PrivateStack, cli: Cli
    ) -> None:
        private = private_stack
        session_running(private, cli, "before-pg-restart")
        calls = [("GET", "/session"), ("GET", "/session/before-pg-restart"), ("GET", "/auth")]
        for method, path in calls:
            assert status_of(private, method, path)[0] == 200, path
        web_pid = private.stack.processes["web"].pid

        private.cluster.stop(signal.SIGKILL)
        # a DRF view and an async view outside DRF (answered by the middleware); each answer
        # waits for a pool timeout, so two calls keep the test short
        for method, path in [("GET", "/session/before-pg-restart"), ("POST", "/session")]:
            started = time.monotonic()
            status, headers, body = status_of(private, method, path)
            assert status == 503, f"{method} {path}: {status} {body}\n{private.stack.logs()}"
            assert headers["content-type"].startswith("application/problem+json")
            assert body["type"].endswith("/database-unavailable"), body
            assert int(headers["retry-after"]) >= 1
            assert time.monotonic() - started < CALL_TIMEOUT

        private.cluster.start()

        def answered_200() -> bool:
            status, _, body = status_of(private, "GET", "/session")
            assert status in (200, 503), f"{status} {body}"
            return status == 200

        wait_for(answered_200, 30, "the API to recover")
        for method, path in calls:
            assert status_of(private, method, path)[0] == 200, path
        assert private.stack.processes["web"].pid == web_pid
        assert private.stack.processes["web"].poll() is None

        session_running(private, cli, "after-pg-restart")
        wait_for(lambda: not invariant_violations(private), 30, "the invariants to hold")
