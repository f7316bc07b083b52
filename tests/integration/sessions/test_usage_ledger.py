"""The usage ledger end to end: sessions run on the real Docker engine for known durations; the
ledger holds each kernel's run exactly, grows while a session runs, and the official client's
`admin resource usage-per-month` / `usage-per-period` print it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial

import pytest
from django.utils import timezone

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.models import Kernel, UsageInterval
from tests.factories.world import make_member
from tests.helpers.stack import Stack
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def stack_env() -> dict[str, str]:
    # running kernels' time written every second, so the test sees the ledger grow
    return {"BAI_USAGE_RECORD_INTERVAL": "1"}


def _ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    text = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in text, f"{text}\n{stack.logs()}"
    return text


def _ledger_seconds(kernel: Kernel) -> Decimal:
    return sum(
        (row.seconds for row in UsageInterval.objects.filter(kernel_id=kernel.pk)), Decimal(0)
    )


def _has_ledger_seconds(kernel: Kernel) -> bool:
    return _ledger_seconds(kernel) >= 1


def _usage_closed(kernel: Kernel) -> bool:
    return Kernel.objects.filter(pk=kernel.pk, usage_closed=True).exists()


def _exact_seconds(kernel: Kernel) -> Decimal:
    assert kernel.started_at is not None and kernel.terminated_at is not None
    delta = kernel.terminated_at - kernel.started_at
    return Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds) / 10**6


class TestUsageLedgerEndToEnd:
    def test_sessions_of_known_durations_are_in_the_ledger_to_the_second(
        self, platform_stack: Stack, cli: Cli
    ) -> None:
        stack = platform_stack
        defaults = default_tenancy_ensure()
        owner = make_member(defaults.project, "usage-user@example.com")
        admin = make_member(defaults.project, "usage-admin@example.com", UserRole.SUPERADMIN)
        ran: dict[str, float] = {}
        kernels: dict[str, Kernel] = {}

        for name, hold in (("usage-short", 3.0), ("usage-long", 7.0)):
            _ok(cli(stack, owner, "session", "create", "python", "-t", name), stack)
            started = time.monotonic()
            kernel = Kernel.objects.get(session__name=name)
            if name == "usage-long":
                # the ledger grows while the session still runs
                wait_for(partial(_has_ledger_seconds, kernel), 20, "a running kernel's time")
            time.sleep(max(0.0, hold - (time.monotonic() - started)))
            _ok(cli(stack, owner, "session", "rm", name), stack)
            ran[name] = time.monotonic() - started
            kernels[name] = kernel

        for kernel in kernels.values():
            wait_for(partial(_usage_closed, kernel), 60, "the kernel's final ledger interval")
            kernel.refresh_from_db()
            # to the microsecond against the kernel's own record of its run
            assert _ledger_seconds(kernel) == _exact_seconds(kernel)
        short, long = (_ledger_seconds(kernels[n]) for n in ("usage-short", "usage-long"))
        # to the second against the test's own clock (start and stop overheads cancel out)
        assert abs(float(long - short) - (ran["usage-long"] - ran["usage-short"])) < 1.0
        assert 2.0 <= float(short) <= ran["usage-short"] + 5

        project = defaults.project
        month = _ok(
            cli(stack, admin, "admin", "resource", "usage-per-month",
                f"{timezone.now():%Y%m}", str(project.pk)),
            stack,
        )  # fmt: skip
        today = f"{timezone.now():%Y%m%d}"
        period = _ok(
            cli(stack, admin, "admin", "resource", "usage-per-period", str(project.pk), today,
                today),
            stack,
        )  # fmt: skip

        assert f"Group: {project.name} ({project.pk})" in month
        assert "Containers (2):" in month
        assert f"Identity: usage-short / {owner.access_key}" in month
        assert f"Identity: usage-long / {owner.access_key}" in month
        assert f"Project: {project.name} ({project.pk})" in period
        assert "Total CPU / Memory Used:" in period
