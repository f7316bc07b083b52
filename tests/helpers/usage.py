"""Kernels with known run times, for usage ledger tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sessions_app.enums import KernelStatus, SessionStatus
from sessions_app.models import Kernel, Session
from tests.factories.sessions import SessionFactory

GIB = 1024**3


def running_kernel_create(
    *, started_at: datetime, slots: dict[str, str] | None = None, **session_fields: Any
) -> Kernel:
    """A RUNNING kernel that started at `started_at`, holding `slots` (default 2 cpu, 1 GiB)."""
    session = SessionFactory.create(status=SessionStatus.RUNNING, **session_fields)
    kernel = session.kernels.get()
    kernel.status = KernelStatus.RUNNING
    kernel.started_at = started_at
    kernel.occupied_slots = slots or {"cpu": "2", "mem": str(GIB)}
    kernel.save()
    return kernel


def kernel_end(kernel: Kernel, at: datetime) -> None:
    """The kernel (and its session) ended at `at`."""
    Kernel.objects.filter(pk=kernel.pk).update(status=KernelStatus.TERMINATED, terminated_at=at)
    Session.objects.filter(pk=kernel.session_id).update(status=SessionStatus.TERMINATED)
