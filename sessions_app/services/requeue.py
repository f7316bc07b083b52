"""Putting a placed session that never started back in the queue.

An agent may refuse a placement (`insufficient-resource`: its own view of free CPUs or devices
disagrees with the manager's for a moment) or be lost before the container came up. Neither is
the user's fault, so the session goes back to PENDING with a verdict that says why, and the
scheduler places it again; only after `coordinator.requeue_limit` such returns does it end in
ERROR.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from backendai_site.config import get_config
from sessions_app.enums import KernelStatus, SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.scheduler.allocation import kernel_release_resources
from sessions_app.scheduler.hints import scheduler_hint
from sessions_app.scheduler.types import Verdict

from .status import kernel_transition, session_transition

log = logging.getLogger(__name__)

REQUEUES_KEY = "requeues"


@transaction.atomic
def session_requeue(*, session: Session, reason: str, msg: str) -> bool:
    """Move a single-kernel session that has not started back to PENDING. Returns False (and
    changes nothing) when it cannot: a cluster session (its siblings may be starting on other
    agents), a session already past starting, or one requeued `requeue_limit` times."""
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.status not in SessionStatus.starting():
        return False
    kernels = list(session.kernels.select_for_update())
    if len(kernels) != 1 or kernels[0].status not in KernelStatus.starting():
        return False
    requeues = int((session.status_data or {}).get(REQUEUES_KEY, 0))
    if requeues >= get_config().coordinator.requeue_limit:
        return False
    kernel: Kernel = kernels[0]
    now = timezone.now()
    previous_agent = kernel.agent_id
    kernel_release_resources(kernel.pk)
    kernel_transition(
        kernel=kernel,
        to=KernelStatus.PENDING,
        reason=reason,
        now=now,
        extra_fields={
            "agent_id": None,
            "occupied_slots": {},
            "container_id": "",
            "host_ports": {},
            "runner_port": None,
            "coordination": {},
        },
    )
    verdict = Verdict(reason, msg).as_json(queue_position=None, queue_length=None, pass_at=now)
    session_transition(
        session=session,
        to=SessionStatus.PENDING,
        reason=reason,
        now=now,
        status_data={
            **(session.status_data or {}),
            REQUEUES_KEY: requeues + 1,
            "scheduler": verdict,
        },
        extra_fields={"occupying_slots": {}},
    )
    scheduler_hint(session.resource_group_id)
    log.info(
        "session requeued",
        extra={
            "session_id": str(session.pk),
            "agent_id": previous_agent,
            "reason": reason,
            "requeues": requeues + 1,
        },
    )
    return True


__all__ = ["session_requeue"]
