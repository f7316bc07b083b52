"""A bounded soak (marker `soak`, run by `make soak`, not by `make test`): two web processes, two
manager workers (only the first embeds beat), one batch worker and two agents on the real Docker
engine. Client threads create a session over the REST API (alternating between the two web
roles), execute code in it, check the output and destroy it, over and over, while a chaos thread
`kill -9`s one agent and one manager worker and restarts them a few seconds later.

It ends with zero 5xx answers (every answer is counted), zero lost sessions (each session created
ends TERMINATED or CANCELLED after its destroy, or ERROR with a reason; none stays in a transient
status after the settle period) and the bookkeeping invariants of tests/helpers/invariants.py for
both agents. `BAI_SOAK_SECONDS` sets how long the clients loop (default 180).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Q

from agents_app.enums import AgentStatus
from agents_app.models import Agent
from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import sign
from tests.helpers.invariants import wait_for_invariants
from tests.helpers.net import free_port
from tests.helpers.stack import (
    AGENT_COMMAND,
    Stack,
    agent_containers_remove,
    agent_env,
    batch_command,
    images_known,
    manager_command,
    require_docker_and_kernel_image,
    roles_env,
    web_command,
    web_up,
)
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.soak]

SOAK_SECONDS = 180.0
CLIENTS = 3
CHAOS_ROUNDS = 2
DOWN_SECONDS = 5.0
# a create blocks until RUNNING; a start whose event died with a killed worker is re-sent by the
# coordinator after its start timeout, so this leaves room for one re-send
CREATE_WAIT_SECONDS = 120
# after the clients stop: destroys re-sent by the coordinator (terminate timeout 20 s) must land
SETTLE_SECONDS = 150.0
# the kernel image's minimum cpu (1) and little memory; each agent declares more cpu than the
# machine has (kernels share its CPUs) so a two-CPU machine holds the clients' sessions
SESSION_RESOURCES = {"cpu": "1", "mem": "256m"}
AGENT_CAPACITY = {"cpu": "4", "mem": str(1536 * 1024**2)}
AGENTS = ("agent-a", "agent-b")
MANAGERS = ("manager-1", "manager-2")


def soak_seconds() -> float:
    return float(os.environ.get("BAI_SOAK_SECONDS") or SOAK_SECONDS)


@dataclass
class SoakStack:
    stack: Stack
    web_urls: list[str]
    agent_ids: dict[str, str]  # role name -> agent id


@pytest.fixture
def soak_stack(transactional_db: None, tmp_path: Path, stack_redis_url: str) -> Iterator[SoakStack]:
    require_docker_and_kernel_image()
    suffix = uuid.uuid4().hex[:6]
    ports = [free_port(), free_port()]
    agent_ids = {role: f"soak-{role[-1]}-{suffix}" for role in AGENTS}
    env = roles_env(stack_redis_url, {})
    stack = Stack(
        url=f"http://127.0.0.1:{ports[0]}", agent_id=agent_ids["agent-a"], env=env, tmp=tmp_path
    )
    for index, port in enumerate(ports, start=1):
        stack.spawn(f"web-{index}", web_command(port))
    # beat runs embedded in manager-1 only: two beats would send every periodic task twice
    stack.spawn("manager-1", manager_command(f"soak-manager-1-{suffix}", tmp_path / "beat"))
    stack.spawn("manager-2", manager_command(f"soak-manager-2-{suffix}", None))
    stack.spawn("batch", batch_command(f"soak-batch-{suffix}"))
    for index, (role, agent_id) in enumerate(agent_ids.items()):
        low = 33000 + index * 200
        stack.spawn(
            role,
            AGENT_COMMAND,
            {
                **agent_env(
                    agent_id,
                    capacity=AGENT_CAPACITY,
                    scratch_root=tmp_path / f"scratch-{role}",
                    port_range=(low, low + 199),
                ),
                # kernels of one agent share its CPUs (the declared cpu exceeds the CPU count)
                "BAI_AGENT_EXCLUSIVE_CPUS": "false",
            },
        )
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            wait_for(partial(web_up, url), 90, f"the web role at {url}")
        wait_for(
            lambda: (
                Agent.objects.filter(pk__in=agent_ids.values(), status=AgentStatus.ALIVE).count()
                == len(agent_ids)
            ),
            90,
            "both agents to register",
        )
        wait_for(lambda: images_known(stack.agent_id), 30, "the local kernel image in the catalog")
        yield SoakStack(stack=stack, web_urls=urls, agent_ids=agent_ids)
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop_all()
        for agent_id in agent_ids.values():
            agent_containers_remove(agent_id)


# -- what the clients saw ---------------------------------------------------------------------


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    not_running: Counter[str] = field(default_factory=Counter)
    not_running_ids: list[str] = field(default_factory=list)
    slowest_create: float = 0.0
    executes: int = 0
    destroys: int = 0
    kills: int = 0

    def answer(self, method: str, url: str, status: int, body: Any) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status >= 500:
                self.server_errors.append(f"{method} {url} -> {status} {str(body)[:300]}")

    def fail(self, line: str) -> None:
        with self.lock:
            self.failures.append(line)


def call(
    tally: Tally, creds: Credentials, base: str, method: str, path: str, body: Any = None,
    *, timeout: float = 60,
) -> tuple[int, Any]:  # fmt: skip
    """One signed JSON call as the official client makes it; every answer is tallied."""
    url = base + path
    data = json.dumps(body).encode() if body is not None else b""
    content_type = "application/json" if body is not None else "text/plain"
    headers = {**sign(creds, method, url, content_type), "Content-Type": content_type}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError) as exc:  # no answer at all: a failure, not a status
        tally.fail(f"{method} {path}: no answer ({exc})")
        return -1, None
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    tally.answer(method, path, status, parsed)
    return status, parsed


def execute_checked(
    tally: Tally, creds: Credentials, base: str, session_id: str, seed: int
) -> None:
    """Run a small computation in the session and check what it printed."""
    path = f"/session/{session_id}"
    code = f"print(sum(range({seed})))"
    status, body = call(tally, creds, base, "POST", path,
                        {"mode": "query", "code": code, "runId": None})  # fmt: skip
    deadline = time.monotonic() + 60
    while status == 200 and body["result"]["status"] == "continued":
        if time.monotonic() > deadline:
            tally.fail(f"execute in {session_id} still running after 60 s")
            return
        follow = {"mode": "continue", "code": "", "runId": body["result"]["runId"]}
        status, body = call(tally, creds, base, "POST", path, follow)
    if status != 200:
        tally.fail(f"execute in {session_id} -> {status} {body}")
        return
    result = body["result"]
    expected = [["stdout", f"{sum(range(seed))}\n"]]
    if result["status"] != "finished" or result["console"] != expected:
        tally.fail(f"execute in {session_id}: {result} (expected {expected})")
        return
    with tally.lock:
        tally.executes += 1


def client_loop(
    tally: Tally, creds: Credentials, urls: list[str], index: int, until: float
) -> None:
    round_no = 0
    while time.monotonic() < until:
        base = urls[round_no % len(urls)]
        round_no += 1
        name = f"soak{index}-{round_no}-{uuid.uuid4().hex[:4]}"
        asked = time.monotonic()
        status, body = call(
            tally, creds, base, "POST", "/session",
            {"image": "python", "name": name, "type": "interactive",
             "config": {"resources": SESSION_RESOURCES},
             "enqueueOnly": False, "maxWaitSeconds": CREATE_WAIT_SECONDS,
             "reuseIfExists": False},
            timeout=CREATE_WAIT_SECONDS + 30,
        )  # fmt: skip
        if status not in (200, 201) or not isinstance(body, dict) or "sessionId" not in body:
            tally.fail(f"create {name} -> {status} {body}")
            return  # a client that cannot create would only repeat the same failure
        session_id = str(body["sessionId"])
        with tally.lock:
            tally.created.append(session_id)
            tally.slowest_create = max(tally.slowest_create, time.monotonic() - asked)
        if body.get("status") == "RUNNING":
            execute_checked(tally, creds, urls[round_no % len(urls)], session_id, round_no + 10)
        else:
            # a blocking create answers RUNNING unless the session ended or timed out meanwhile
            with tally.lock:
                tally.not_running[str(body.get("status"))] += 1
                tally.not_running_ids.append(session_id)
            tally.fail(f"create {session_id} answered {body.get('status')}, not RUNNING")
        status, body = call(tally, creds, base, "DELETE", f"/session/{session_id}")
        if status in (200, 204):
            with tally.lock:
                tally.destroys += 1
        else:
            tally.fail(f"destroy {session_id} -> {status} {body}")


def chaos_loop(soak: SoakStack, tally: Tally, started: float, seconds: float) -> None:
    """`kill -9` one agent and one manager worker, restart them after DOWN_SECONDS; twice,
    alternating which agent and which worker (the one with beat first)."""
    for round_no in range(CHAOS_ROUNDS):
        at = started + seconds * (round_no + 1) / (CHAOS_ROUNDS + 1)
        time.sleep(max(0.0, at - time.monotonic()))
        victims = (AGENTS[round_no % len(AGENTS)], MANAGERS[round_no % len(MANAGERS)])
        for role in victims:
            soak.stack.kill(role, signal.SIGKILL)
            with tally.lock:
                tally.kills += 1
        time.sleep(DOWN_SECONDS)
        for role in victims:
            soak.stack.restart(role)


def live_sessions(ids: list[str]) -> list[tuple[uuid.UUID, str]]:
    return list(
        Session.objects.filter(pk__in=ids)
        .exclude(status__in=SessionStatus.dead())
        .values_list("id", "status")
    )


class TestSoak:
    def test_clients_survive_agent_and_manager_kills(self, soak_stack: SoakStack) -> None:
        seconds = soak_seconds()
        project = default_tenancy_ensure().project
        users = [make_member(project, f"soak-{index}@example.com") for index in range(CLIENTS)]
        tally = Tally()
        errors: list[BaseException] = []

        def guarded(target: Any, *args: Any) -> None:
            try:
                target(*args)
            except BaseException as exc:  # a crashed thread must fail the test, not vanish
                errors.append(exc)

        started = time.monotonic()
        threads = [
            threading.Thread(
                target=guarded,
                args=(client_loop, tally, creds, soak_stack.web_urls, index, started + seconds),
            )
            for index, creds in enumerate(users)
        ]
        threads.append(
            threading.Thread(target=guarded, args=(chaos_loop, soak_stack, tally, started, seconds))
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + CREATE_WAIT_SECONDS + 300)
        assert not any(thread.is_alive() for thread in threads), "a soak thread did not finish"
        # every role runs again (the chaos thread restarted what it killed)
        assert set(soak_stack.stack.processes) >= {*AGENTS, *MANAGERS, "web-1", "web-2", "batch"}

        agent_ids = list(soak_stack.agent_ids.values())
        settled = True
        try:
            wait_for(lambda: not live_sessions(tally.created), SETTLE_SECONDS, "sessions to end")
        except AssertionError:
            settled = False
        final = Counter(
            Session.objects.filter(pk__in=tally.created).values_list("status", flat=True)
        )
        print(
            f"soak: {seconds:.0f} s, {CLIENTS} clients, sessions created {len(tally.created)}, "
            f"executes done {tally.executes}, destroys {tally.destroys}, kills done {tally.kills}, "
            f"slowest create {tally.slowest_create:.1f} s, "
            f"created but not RUNNING {dict(tally.not_running)}, answers {dict(tally.statuses)}, "
            f"final statuses {dict(final)}"
        )
        # the sessions that did not simply run and end TERMINATED, with their reasons
        odd = Session.objects.filter(
            Q(pk__in=tally.not_running_ids)
            | (Q(pk__in=tally.created) & ~Q(status=SessionStatus.TERMINATED))
        )
        print(f"soak: odd sessions {list(odd.values_list('id', 'status', 'status_info'))}")
        context = soak_stack.stack.logs()
        if errors or tally.server_errors or tally.failures or not settled:
            print(context)
        assert not errors, f"a soak thread crashed: {errors!r}"
        assert not tally.server_errors, "5xx answers:\n" + "\n".join(tally.server_errors)
        assert not tally.failures, "client failures:\n" + "\n".join(tally.failures)
        assert settled, f"sessions left in a transient status: {live_sessions(tally.created)}"
        unexplained = list(
            Session.objects.filter(pk__in=tally.created, status=SessionStatus.ERROR, status_info="")
            .values_list("id", flat=True)
        )  # fmt: skip
        assert not unexplained, f"sessions in ERROR without a reason: {unexplained}"
        # nothing created behind the clients' backs, nothing created twice
        owned = Session.objects.filter(user__in=[creds.user for creds in users]).count()
        assert owned == len(tally.created) == len(set(tally.created))
        assert tally.kills == 2 * CHAOS_ROUNDS
        assert tally.executes > 0, f"no execute succeeded\n{context}"
        wait_for(
            lambda: (
                Agent.objects.filter(pk__in=agent_ids, status=AgentStatus.ALIVE).count()
                == len(agent_ids)
            ),
            60,
            "both agents ALIVE after their restarts",
        )
        wait_for_invariants(agent_ids, timeout=90)
