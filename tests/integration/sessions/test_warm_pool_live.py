"""A warm pool on the real stack (web, manager with beat, agent, Docker): the refill run starts a
pooled kernel, a matching `backend.ai run` claims it, and the claimed kernel behaves like a cold
one (same uid, working directory and home, the session's environment, RUNNING), with no container
of its own; the pool refills afterwards (docs/design/0007-warm-pools.md)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import PooledKernelStatus, SessionStatus
from sessions_app.models import PooledKernel, Session, WarmPool
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]

PROBE = (
    "import os, json; print('PROBE ' + json.dumps({'uid': os.getuid(), 'cwd': os.getcwd(), "
    "'home': os.environ.get('HOME'), 'greeting': os.environ.get('GREETING'), "
    "'session': os.environ.get('BACKENDAI_SESSION_ID'), "
    "'home_writable': os.access(os.environ.get('HOME', '/'), os.W_OK)}))"
)


def _ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    text = result.stdout + result.stderr
    assert result.returncode == 0, f"{text}\n{stack.logs()}"
    return text


def _probe(stack: Stack, cli: Cli, owner: Credentials, name: str) -> dict[str, Any]:
    text = _ok(
        cli(stack, owner, "run", "-t", name, "-r", "cpu=1", "-r", "mem=256m",
            "-e", "GREETING=hello-warm", "python", "-c", PROBE),
        stack,
    )  # fmt: skip
    line = next(line for line in text.splitlines() if line.startswith("PROBE "))
    return dict(json.loads(line[len("PROBE ") :]))


def _ready(pool: WarmPool) -> int:
    return PooledKernel.objects.filter(pool=pool, status=PooledKernelStatus.READY).count()


def test_a_claimed_kernel_behaves_like_a_cold_one(platform_stack: Stack, cli: Cli) -> None:
    stack = platform_stack
    owner = make_member(default_tenancy_ensure().project, "e2e-warm@example.com")

    cold = _probe(stack, cli, owner, "e2e-cold")
    cold_session = Session.objects.get(name="e2e-cold")
    _ok(cli(stack, owner, "session", "destroy", "e2e-cold"), stack)
    pool = WarmPool.objects.create(
        resource_group=cold_session.resource_group,
        image=cold_session.image,
        slots=cold_session.requested_slots,
        target_size=1,
    )
    wait_for(lambda: _ready(pool) == 1, 90, f"a ready pooled kernel\n{stack.logs()}")
    pooled = PooledKernel.objects.get(pool=pool, status=PooledKernelStatus.READY)

    warm = _probe(stack, cli, owner, "e2e-warm")

    session = Session.objects.get(name="e2e-warm")
    pooled.refresh_from_db()
    assert pooled.status == PooledKernelStatus.CLAIMED and pooled.session_id == session.pk
    kernel = session.kernels.get()
    assert kernel.pk == pooled.pk and kernel.container_id == pooled.container_id
    assert session.status == SessionStatus.RUNNING
    history = list(session.history.values_list("reason", flat=True))
    assert "claimed-from-warm-pool" in history
    assert warm["session"] == str(session.pk) and cold["session"] == str(cold_session.pk)
    assert {k: v for k, v in warm.items() if k != "session"} == {
        k: v for k, v in cold.items() if k != "session"
    }
    assert warm["uid"] == 1000 and warm["cwd"] == "/home/work"
    assert warm["greeting"] == "hello-warm"
    pool.refresh_from_db()
    assert (pool.hits, pool.misses) == (1, 0)

    # the pool refills behind the claim
    wait_for(lambda: _ready(pool) == 1, 90, f"the pool refilled\n{stack.logs()}")
    _ok(cli(stack, owner, "session", "destroy", "e2e-warm"), stack)
    WarmPool.objects.filter(pk=pool.pk).update(enabled=False)
    wait_for(
        lambda: (
            not PooledKernel.objects.filter(pool=pool)
            .exclude(status__in=[PooledKernelStatus.TERMINATED, PooledKernelStatus.CLAIMED])
            .exists()
        ),
        90,
        f"the disabled pool emptied\n{stack.logs()}",
    )
