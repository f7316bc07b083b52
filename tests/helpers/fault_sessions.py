"""Sessions driven over signed REST for the fault tests: a burst of small creates, waiting for
every one to reach a verdict, destroying them all, executing in one."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sessions_app.enums import KernelStatus, SessionStatus
from sessions_app.models import Kernel, Session
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import api
from tests.helpers.stack import Stack
from tests.helpers.wait import wait_for

SMALL = {"cpu": "1", "mem": "256m"}
"""The image's minimum; six fit the fault stack's agent (6 shared CPUs, 4 GiB) at once."""

SETTLED = frozenset({SessionStatus.RUNNING, *SessionStatus.dead()})
"""A session has a verdict: it runs, or it ended (with a reason, checked separately)."""


def session_create(
    stack: Stack, creds: Credentials, name: str, *, enqueue_only: bool = True
) -> tuple[int, Any]:
    body = {
        "image": "python",
        "name": name,
        "enqueueOnly": enqueue_only,
        "config": {"resources": SMALL},
    }
    return api(stack, creds, "POST", "/session", body)


def sessions_create_burst(stack: Stack, creds: Credentials, count: int, prefix: str) -> list[str]:
    """`count` creates sent at once (enqueue-only, so the scheduler and the agent do the
    work); fails unless every one was accepted."""
    names = [f"{prefix}-{i}-{uuid.uuid4().hex[:4]}" for i in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda name: session_create(stack, creds, name), names))
    refused = [(n, a) for n, a in zip(names, answers, strict=True) if a[0] not in (200, 201)]
    assert not refused, f"creates refused: {refused}"
    return names


def statuses(names: Iterable[str]) -> dict[str, str]:
    return dict(Session.objects.filter(name__in=list(names)).values_list("name", "status"))


def wait_for_verdicts(names: list[str], timeout: float, stack: Stack) -> dict[str, Session]:
    """Wait until every session runs or has ended; fail naming the ones left in a transient
    status."""

    def settled() -> bool:
        found = statuses(names)
        return len(found) == len(names) and all(s in SETTLED for s in found.values())

    try:
        wait_for(settled, timeout, "every session to run or end")
    except AssertionError as exc:
        detail = {
            s.name: (s.status, s.status_info, list(s.kernels.values_list("status", flat=True)))
            for s in Session.objects.filter(name__in=names)
        }
        raise AssertionError(f"{exc}: {detail}\n{stack.logs()}") from None
    return {s.name: s for s in Session.objects.filter(name__in=names)}


def assert_errors_have_reasons(sessions: Iterable[Session]) -> None:
    unexplained = [
        s.name for s in sessions if s.status != SessionStatus.RUNNING and not s.status_info
    ]
    assert not unexplained, f"sessions ended without a reason: {unexplained}"


def sessions_destroy_all(stack: Stack, creds: Credentials, names: Iterable[str]) -> None:
    """Destroy every session still alive and wait until all have ended."""
    live = list(
        Session.objects.filter(name__in=list(names))
        .exclude(status__in=SessionStatus.dead())
        .values_list("name", flat=True)
    )
    for name in live:
        status, body = api(stack, creds, "DELETE", f"/session/{name}")
        assert status in (200, 204), (name, status, body)
    wait_for(
        lambda: (
            not Session.objects.filter(name__in=list(names))
            .exclude(status__in=SessionStatus.dead())
            .exists()
        ),
        60,
        "every session to end after destroy",
    )


def kernels_in_progress(names: Iterable[str]) -> int:
    """Kernels the agent is working on now (handed over, not yet running)."""
    return Kernel.objects.filter(
        session__name__in=list(names),
        status__in=KernelStatus.starting(),
    ).count()


def execute(stack: Stack, creds: Credentials, name: str, code: str) -> str:
    """Run `code` in the session (query mode) and return its stdout."""
    status, body = api(stack, creds, "POST", f"/session/{name}", {"mode": "query", "code": code})
    assert status == 200, (status, body)
    result = body["result"]
    while result["status"] == "continued":
        status, body = api(stack, creds, "POST", f"/session/{name}",
                           {"mode": "continue", "code": "", "runId": result["runId"]})  # fmt: skip
        assert status == 200, (status, body)
        result = body["result"]
    assert result["status"] == "finished", result
    return "".join(text for kind, text in result["console"] if kind == "stdout")
