"""Batch sessions: run the startup command once the session runs, then end it with its result.

The run is queued by `lifecycle.session_batch_schedule` when the session becomes RUNNING.

Runs in a worker consuming the `batch` queue (a thread pool: the work is waiting on a socket),
talking to the main kernel's runner over its published port with the kernel's secret.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from uuid import UUID

from django.db import transaction

from agents_app.kernel_runner.client import RunnerClient
from sessions_app.enums import KernelRole, SessionResult, SessionStatus
from sessions_app.models import Kernel, Session

from .events import session_event_publish
from .lifecycle import session_destroy

log = logging.getLogger(__name__)

BATCH_TIMEOUT_EXIT_CODE = -1


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    exit_code: int
    output: str
    timed_out: bool


async def _run_batch(
    host: str, port: int, secret: str, command: str, timeout: float | None
) -> BatchOutcome:
    async with RunnerClient(host, port, secret) as client:
        first = await client.batch(exec_=command)
        try:
            last = await client.run_to_end(first, timeout=timeout or 10 * 365 * 86400)
        except TimeoutError:
            return BatchOutcome(BATCH_TIMEOUT_EXIT_CODE, "", timed_out=True)
    output = "".join(text for _, text in last.console)
    return BatchOutcome(last.exit_code if last.exit_code is not None else 1, output, False)


def session_batch_run(session_id: UUID | str) -> SessionResult | None:
    """Run the startup command to its end and record SUCCESS or FAILURE (idempotent)."""
    session = Session.objects.select_related("access_key").filter(pk=session_id).first()
    if (
        session is None
        or session.status not in SessionStatus.running()
        or session.result != SessionResult.UNDEFINED
    ):
        return None
    kernel = (
        Kernel.objects.select_related("agent")
        .filter(session=session, cluster_role=KernelRole.MAIN)
        .first()
    )
    if kernel is None or kernel.runner_port is None or kernel.agent is None:
        log.warning("batch session has no reachable runner", extra={"session_id": str(session_id)})
        return None
    outcome = asyncio.run(
        _run_batch(
            kernel.agent.advertised_host,
            kernel.runner_port,
            kernel.runner_secret,
            session.startup_command,
            float(session.batch_timeout) if session.batch_timeout else None,
        )
    )
    result = SessionResult.SUCCESS if outcome.exit_code == 0 else SessionResult.FAILURE
    with transaction.atomic():
        updated = Session.objects.filter(pk=session.pk, result=SessionResult.UNDEFINED).update(
            result=result
        )
        if not updated:
            return None
        Kernel.objects.filter(pk=kernel.pk).update(
            exit_code=outcome.exit_code, logs=kernel.logs + outcome.output
        )
        session_event_publish(
            "session_success" if result == SessionResult.SUCCESS else "session_failure",
            session=session,
            reason="batch-timeout" if outcome.timed_out else "batch-finished",
            exit_code=outcome.exit_code,
        )
    session_destroy(
        session=session, reason="batch-timeout" if outcome.timed_out else "batch-finished"
    )
    log.info(
        "batch finished",
        extra={"session_id": str(session.pk), "exit_code": outcome.exit_code, "result": result},
    )
    return result
