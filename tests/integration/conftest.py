"""A whole platform for end-to-end tests: web (uvicorn), the manager worker with embedded beat,
the batch worker and one agent on the real Docker engine, on the pytest database and an
isolated Redis database. The official CLI talks to the web role like a user would."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from agents_app.enums import AgentStatus
from agents_app.models import Agent
from backendai_site.config import get_config
from tests.helpers import processes
from tests.helpers.credentials import Credentials
from tests.helpers.net import free_port
from tests.helpers.stack import (
    AGENT_COMMAND,
    Stack,
    agent_containers_remove,
    agent_env,
    batch_command,
    client_env,
    images_known,
    manager_command,
    require_docker_and_kernel_image,
    reserved_redis_db,
    roles_env,
    web_command,
    web_up,
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
    require_docker_and_kernel_image()
    port = free_port()
    agent_id = f"e2e-{uuid.uuid4().hex[:8]}"
    env = roles_env(stack_redis_url, stack_env)
    stack = Stack(url=f"http://127.0.0.1:{port}", agent_id=agent_id, env=env, tmp=tmp_path)
    stack.spawn("web", web_command(port))
    stack.spawn("manager", manager_command(f"manager-{agent_id}", tmp_path / "beat"))
    stack.spawn("batch", batch_command(f"batch-{agent_id}"))
    stack.spawn(
        "agent",
        AGENT_COMMAND,
        {
            **agent_env(
                agent_id,
                capacity={"mem": str(2 * 1024**3)},
                scratch_root=tmp_path / "scratch",
                port_range=(32000, 32199),
            ),
            # a module's `stack_env` may declare the agent's own settings too (its capacity)
            **{k: v for k, v in stack_env.items() if k.startswith("BAI_AGENT_")},
        },
    )
    try:
        wait_for(lambda: web_up(stack.url), 60, "the web role")
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
        return processes.run(
            [str(official_client), *args],
            cwd=tmp_path,
            env=client_env(official_client, stack, creds, tmp_path),
            timeout=timeout,
        )

    return run
