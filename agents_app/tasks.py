"""Celery tasks of the manager side, consumed from the `events` queue (see settings routes).

Agents send these by name (`agents_app.<event>`) with one JSON argument. Each task validates the
payload with its pydantic model and hands it to a service; Celery may redeliver, and every
service here is idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from backendai_site.config import get_config

from . import events
from .enums import AgentCommand
from .schemas import (
    AgentHeartbeat,
    AgentStarted,
    ImagePullResult,
    KernelCommitted,
    KernelCommitUpdated,
    KernelCreationFailed,
    KernelStarted,
    KernelTerminated,
    Reconcile,
)
from .services.agents import (
    agent_mark_terminated,
    agent_record_heartbeat,
    agent_record_started,
    agents_mark_lost,
)
from .services.commands import agent_command_send
from .services.image_rescan import images_rescan_run
from .services.images import kernel_committed_record

log = logging.getLogger(__name__)


@shared_task(name="agents_app.agent_heartbeat", ignore_result=True)
def agent_heartbeat(payload: dict[str, Any]) -> None:
    agent_record_heartbeat(heartbeat=AgentHeartbeat.model_validate(payload))


@shared_task(name="agents_app.agent_started", ignore_result=True)
def agent_started(payload: dict[str, Any]) -> None:
    started = AgentStarted.model_validate(payload)
    unknown = agent_record_started(started=started)
    # Always answer, even with nothing to destroy: the agent waits for this before it
    # removes anything, so a manager that is down never makes it delete kernels.
    agent_command_send(
        agent_id=started.agent_id,
        command=AgentCommand.RECONCILE,
        payload=Reconcile(destroy_kernel_ids=unknown),
    )


@shared_task(name="agents_app.agent_terminated", ignore_result=True)
def agent_terminated(payload: dict[str, Any]) -> None:
    agent_mark_terminated(agent_id=payload["agent_id"], boot_id=payload["boot_id"])


@shared_task(name="agents_app.kernel_started", ignore_result=True)
def kernel_started(payload: dict[str, Any]) -> None:
    event = KernelStarted.model_validate(payload)
    log.info("kernel started", extra={"agent_id": event.agent_id, "kernel_id": event.kernel_id})
    events.dispatch("kernel_started", event)


@shared_task(name="agents_app.kernel_terminated", ignore_result=True)
def kernel_terminated(payload: dict[str, Any]) -> None:
    event = KernelTerminated.model_validate(payload)
    log.info(
        "kernel terminated",
        extra={
            "agent_id": event.agent_id,
            "kernel_id": event.kernel_id,
            "exit_code": event.exit_code,
            "oom_killed": event.oom_killed,
        },
    )
    events.dispatch("kernel_terminated", event)


@shared_task(name="agents_app.kernel_creation_failed", ignore_result=True)
def kernel_creation_failed(payload: dict[str, Any]) -> None:
    event = KernelCreationFailed.model_validate(payload)
    log.warning(
        "kernel creation failed",
        extra={"agent_id": event.agent_id, "kernel_id": event.kernel_id, "reason": event.reason},
    )
    events.dispatch("kernel_creation_failed", event)


@shared_task(name="agents_app.image_pulled", ignore_result=True)
def image_pulled(payload: dict[str, Any]) -> None:
    events.dispatch("image_pulled", ImagePullResult.model_validate(payload))


@shared_task(name="agents_app.kernel_commit_updated", ignore_result=True)
def kernel_commit_updated(payload: dict[str, Any]) -> None:
    events.dispatch("kernel_commit_updated", KernelCommitUpdated.model_validate(payload))


@shared_task(name="agents_app.kernel_committed", ignore_result=True)
def kernel_committed(payload: dict[str, Any]) -> None:
    event = kernel_committed_record(KernelCommitted.model_validate(payload))
    events.dispatch("kernel_committed", event)


@shared_task(name="agents_app.sweep_lost_agents", ignore_result=True)
def sweep_lost_agents() -> list[str]:
    """Beat backstop: mark silent agents LOST (idempotent; safe to run twice)."""
    return agents_mark_lost(timeout=get_config().agents.lost_timeout)


@shared_task(name="agents_app.images_rescan", ignore_result=True)
def images_rescan(task_id: str, registry_ids: list[int], include_agents: bool) -> None:
    """`admin image rescan`'s background task (routed to the manager queue, not the events one:
    a registry scan may take a while)."""
    images_rescan_run(task_id=task_id, registry_ids=registry_ids, include_agents=include_agents)
