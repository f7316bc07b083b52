"""A Redis restart under a running platform (issue 10 item 4): the stack runs on a private
`redis-server` (never the machine's shared one), which is killed and started again on the same
port while a session runs. Without any manual step, execute works again in that session, the
agent's heartbeats reach the manager worker again, a new session reaches RUNNING and the
bookkeeping invariants hold. Redis runs without persistence, so the restart also loses every
queued message and key, as it would in production."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agents_app.models import Agent
from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import api
from tests.helpers.invariants import wait_for_invariants
from tests.helpers.services import RedisServer, private_redis
from tests.helpers.stack import Stack, require
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    with private_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def stack_redis_url(redis_server: RedisServer) -> str:
    """Every role of `platform_stack` on the private Redis (broker, channels layer, cache)."""
    return redis_server.url()


def created(cli: Cli, stack: Stack, creds: Credentials, name: str) -> Session:
    result = cli(stack, creds, "session", "create", "python", "-t", name, timeout=90)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{stack.logs()}"
    session = Session.objects.get(name=name)
    assert session.status == SessionStatus.RUNNING, session.status
    return session


def executed(stack: Stack, creds: Credentials, name: str, code: str) -> str:
    status, body = api(stack, creds, "POST", f"/session/{name}",
                       {"mode": "query", "code": code, "runId": None})  # fmt: skip
    assert status == 200, f"{status} {body}\n{stack.logs()}"
    result = body["result"]
    assert result["status"] == "finished", result
    return "".join(text for kind, text in result["console"] if kind == "stdout")


class TestRedisRestart:
    def test_platform_heals_after_redis_is_killed_and_restarted(
        self, platform_stack: Stack, redis_server: RedisServer, cli: Cli
    ) -> None:
        stack = platform_stack
        owner = make_member(default_tenancy_ensure().project, "redis-restart@example.com")
        created(cli, stack, owner, "before-redis-restart")
        assert executed(stack, owner, "before-redis-restart", "print(6 * 7)") == "42\n"

        redis_server.stop(signal.SIGKILL)
        time.sleep(3)
        redis_server.start()
        restarted_at = time.time()

        # the running session is used again at once: no role was restarted by hand
        assert executed(stack, owner, "before-redis-restart", "print(2 + 3)") == "5\n"

        def heartbeat_after_restart() -> bool:
            agent = Agent.objects.get(pk=stack.agent_id)
            return agent.last_heartbeat is not None and (
                agent.last_heartbeat.timestamp() > restarted_at + 1
            )

        # the agent publishes on the new Redis and the manager worker consumes it again
        wait_for(heartbeat_after_restart, 30, f"a heartbeat after the restart\n{stack.logs()}")
        fresh = created(cli, stack, owner, "after-redis-restart")
        assert executed(stack, owner, fresh.name, "print('again')") == "again\n"
        wait_for_invariants([stack.agent_id], timeout=30)
