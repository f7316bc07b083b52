"""A whole platform for end-to-end tests: web (uvicorn), the manager worker with embedded beat,
the batch worker and one agent on the real Docker engine, on the pytest database and an
isolated Redis database. The official CLI talks to the web role like a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.db import connection

from agents_app.enums import AgentStatus
from agents_app.models import Agent
from backendai_site.config import get_config
from backendai_site.devservices import database_url_from_settings
from tests.helpers.credentials import Credentials
from tests.helpers.net import free_port
from tests.helpers.stack import (
    Stack,
    agent_containers_remove,
    client_env,
    images_known,
    require,
    reserved_redis_db,
)
from tests.helpers.wait import wait_for


@pytest.fixture
def stack_redis_url() -> Iterator[str]:
    with reserved_redis_db() as db:
        url = get_config().redis_url.rsplit("/", 1)[0] + f"/{db}"
        redis.Redis.from_url(url).flushdb()
        yield url


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Environment overrides for every role of `platform_stack`; a test module overrides this
    fixture to tune timeouts (the fault tests shorten the LOST timeout, for example); its
    `BAI_AGENT_*` entries win over the agent's own defaults (its capacity, say)."""
    return {}


@pytest.fixture
def platform_stack(
    transactional_db: None, tmp_path: Path, stack_redis_url: str, stack_env: dict[str, str]
) -> Iterator[Stack]:
    require(shutil.which("docker") is not None, "the docker CLI is not installed")
    info = subprocess.run(["docker", "info"], capture_output=True, timeout=60, check=False)
    require(info.returncode == 0, "the Docker engine is not running")
    image = subprocess.run(
        ["docker", "image", "inspect", "backendai/python:3.11-debian"],
        capture_output=True, check=False,
    )  # fmt: skip
    require(image.returncode == 0, "the kernel image is missing (scripts/build_kernel_image.sh)")

    redis_url = stack_redis_url
    port = free_port()
    agent_id = f"e2e-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_from_settings(connection.settings_dict),
        "REDIS_URL": redis_url,
        "BAI_LOG_JSON": "false",
        "BAI_AGENTS_LOST_TIMEOUT": "30",
        "BAI_AGENTS_SWEEP_INTERVAL": "3",
        **stack_env,
    }
    stack = Stack(url=f"http://127.0.0.1:{port}", agent_id=agent_id, env=env, tmp=tmp_path)
    py = sys.executable
    stack.spawn("web", [py, "-m", "uvicorn", "backendai_site.asgi:application",
                        "--host", "127.0.0.1", "--port", str(port), "--no-access-log"])  # fmt: skip
    stack.spawn("manager", [py, "-m", "celery", "-A", "backendai_site", "worker", "-B",
                            "-s", str(tmp_path / "beat"), "-Q", "manager,events", "-P", "threads",
                            "-c", "4", "-n", f"manager-{agent_id}@%h", "--without-mingle",
                            "--without-gossip", "-l", "INFO"])  # fmt: skip
    stack.spawn("batch", [py, "-m", "celery", "-A", "backendai_site", "worker", "-Q", "batch",
                          "-P", "threads", "-c", "4", "-n", f"batch-{agent_id}@%h",
                          "--without-mingle", "--without-gossip", "-l", "INFO"])  # fmt: skip
    stack.spawn(
        "agent",
        [py, "manage.py", "run_agent"],
        {
            "BAI_AGENT_ID": agent_id,
            "BAI_AGENT_HEARTBEAT_INTERVAL": "1",
            "BAI_AGENT_CAPACITY": json.dumps({"mem": str(2 * 1024**3)}),
            "BAI_AGENT_SCRATCH_ROOT": str(tmp_path / "scratch"),
            "BAI_AGENT_PORT_RANGE": json.dumps([32000, 32199]),
            # a module's `stack_env` may declare the agent's own settings too (its capacity)
            **{k: v for k, v in stack_env.items() if k.startswith("BAI_AGENT_")},
        },
    )
    try:

        def web_up() -> bool:
            try:
                with urllib.request.urlopen(stack.url + "/", timeout=1):
                    return True
            except OSError:
                return False

        wait_for(web_up, 60, "the web role")
        wait_for(
            lambda: Agent.objects.filter(pk=agent_id, status=AgentStatus.ALIVE).exists(),
            60,
            "the agent to register",
        )
        wait_for(lambda: images_known(agent_id), 30, "the local kernel image in the catalog")
        yield stack
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop_all()
        agent_containers_remove(agent_id)


@pytest.fixture
def cli(official_client: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `backend.ai` against a stack with the given credentials."""

    def run(
        stack: Stack, creds: Credentials, *args: str, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(official_client), *args],
            cwd=tmp_path,
            env=client_env(official_client, stack, creds, tmp_path),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
