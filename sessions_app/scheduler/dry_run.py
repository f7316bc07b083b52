"""`GET /scheduler/dry-run?resource_group=`: what the next pass of a resource group would place,
and why the rest would wait, computed by the pass's own snapshot and planner without writing
anything (no reservation, no status change, no verdict, no round-robin step).

Staff who may read the group (the resource-group rule) see every decision; sessions they may
not view themselves appear only as counts, never by name, owner or id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.utils import timezone

from agents_app.errors import ResourceGroupNotFound
from agents_app.services.resource_groups import resource_groups_visible_to
from backendai_site.accounts.models import User
from sessions_app.enums import SessionAction
from sessions_app.selectors import sessions_for

from .planner import plan_pass
from .snapshot import snapshot_load
from .types import slots_to_json


def scheduler_dry_run(
    *, actor: User, resource_group: str, now: datetime | None = None
) -> dict[str, Any]:
    group = resource_groups_visible_to(actor=actor).filter(name=resource_group).first()
    if group is None:
        raise ResourceGroupNotFound(f"No resource group {resource_group!r} you may read.")
    now = now or timezone.now()
    snapshot = snapshot_load(resource_group_id=group.pk, now=now)
    plan = plan_pass(snapshot)
    considered = [s.id for s in snapshot.sessions]
    visible: dict[UUID, str] = dict(
        sessions_for(actor, SessionAction.VIEW).filter(pk__in=considered).values_list("pk", "name")
    )
    hidden = {"placed": 0, "waiting": 0, "cancelled": 0}

    placements = []
    for placement in plan.placements:
        if placement.session_id not in visible:
            hidden["placed"] += 1
            continue
        placements.append(
            {
                "session_id": str(placement.session_id),
                "session_name": visible[placement.session_id],
                "kernels": [
                    {"kernel_id": str(k.kernel_id), "agent_id": k.agent_id,
                     "slots": slots_to_json(k.slots)}
                    for k in placement.kernels
                ],
                **_fair_share_of(plan.fair_share, placement.session_id),
            }
        )  # fmt: skip
    waiting = []
    for position, (pending, verdict) in enumerate(plan.pending, start=1):
        if pending.id not in visible:
            hidden["waiting"] += 1
            continue
        waiting.append(
            {
                "session_id": str(pending.id),
                "session_name": visible[pending.id],
                **verdict.as_json(
                    queue_position=position, queue_length=len(plan.pending), pass_at=now
                ),
            }
        )
    cancellations = []
    for pending, verdict, reason in plan.cancellations:
        if pending.id not in visible:
            hidden["cancelled"] += 1
            continue
        cancellations.append(
            {
                "session_id": str(pending.id),
                "session_name": visible[pending.id],
                "reason": reason,
                "verdict": verdict.code,
                "msg": verdict.msg,
            }
        )
    return {
        "resource_group": group.name,
        "scheduler": snapshot.scheduler,
        "at": now.isoformat(),
        "pending_considered": len(considered),
        "placements": placements,
        "waiting": waiting,
        "cancellations": cancellations,
        "not_shown": hidden,
    }


def _fair_share_of(explained: dict[UUID, dict[str, Any]], session_id: UUID) -> dict[str, Any]:
    """`{"fair_share": ...}` for a session the fair-share sequencer ranked, else nothing."""
    return {"fair_share": explained[session_id]} if session_id in explained else {}
