"""Shared setup of the interactive benchmarks (execute_rtt, tcpproxy, terminal_echo): a live
stack (bench/_stack.py: gunicorn + uvicorn web, Celery workers, one agent) on a throwaway
database, one running python session, and what the baselines need (its container id and the
runner's published port and secret)."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bench._stack import (
    ApiClient,
    LiveStack,
    Owner,
    docker_ready,
    owner_create,
    session_create_body,
    setup_django,
    signed_headers,
    throwaway_database,
)


@dataclass
class BenchSession:
    stack: LiveStack
    owner: Owner
    api: ApiClient
    session_id: str
    container_id: str
    runner_port: int
    runner_secret: str
    host_ports: dict[str, int]

    def ws_url(self, kind: str, query: str = "") -> str:
        path = f"/stream/session/{self.session_id}/{kind}" + (f"?{query}" if query else "")
        return self.stack.url.replace("http://", "ws://") + path

    def ws_headers(self, kind: str, query: str = "") -> dict[str, str]:
        path = f"/stream/session/{self.session_id}/{kind}" + (f"?{query}" if query else "")
        headers = signed_headers(
            self.owner, method="GET", rel_url=path, host=self.api.host,
            content_type="application/octet-stream",
        )  # fmt: skip
        headers.pop("Content-Type")
        return headers


@contextlib.contextmanager
def bench_session(name: str) -> Iterator[BenchSession]:
    docker_ready()
    setup_django()
    from sessions_app.models import Kernel

    with throwaway_database(name) as database_url:
        owner = owner_create(f"bench-{name}@example.com")
        stack = LiveStack(database_url=database_url)
        try:
            stack.start_web(workers=1)
            stack.start_workers()
            stack.start_agent(
                f"bench-{uuid.uuid4().hex[:8]}", {"BAI_AGENT_CAPACITY": '{"mem": "4g"}'}
            )
            stack.wait_web()
            stack.wait_agent()
            api = ApiClient(stack.url, owner)
            body: dict[str, Any] = session_create_body(f"bench-{name}", {"cpu": "1", "mem": "1g"})
            status, reply = api.call("POST", "/session", body)
            if status // 100 != 2 or reply.get("status") != "RUNNING":
                raise RuntimeError(f"POST /session answered {status}: {reply}")
            kernel = Kernel.objects.get(session_id=reply["sessionId"])
            yield BenchSession(
                stack=stack, owner=owner, api=api, session_id=str(reply["sessionId"]),
                container_id=kernel.container_id, runner_port=int(kernel.runner_port or 0),
                runner_secret=kernel.runner_secret,
                host_ports={k: int(v) for k, v in kernel.host_ports.items()},
            )  # fmt: skip
        except BaseException:
            print(stack.logs(), file=sys.stderr)
            raise
        finally:
            stack.stop()
