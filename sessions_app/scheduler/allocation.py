"""Reserve and release agent capacity with conditional updates; commit a plan.

`AgentResource.used` is changed only here, always by `used + delta <= capacity` conditional
updates (the CHECK constraint is the last line of defence), and always together with the
kernels' (and warm pools' kernels') `holds_resources` flag in the same transaction, so that
for every row `used == sum(occupied_slots of kernels and pooled kernels holding resources on that
agent)`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db import connection, transaction

from agents_app.models import AgentResource
from sessions_app.enums import KERNEL_TRANSITIONS, KernelStatus, SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.services.status import (
    kernels_cancel_bulk,
    kernels_schedule_bulk,
    sessions_transition_bulk,
)

from .hints import scheduler_hint
from .types import (
    PendingSession,
    Placement,
    Plan,
    Snapshot,
    Verdict,
    slots_from_json,
    slots_to_json,
)
from .validators import VERDICT_INSUFFICIENT_CAPACITY

log = logging.getLogger(__name__)

REASON_SCHEDULED = "scheduled"
VERDICT_REFRESH_SECONDS = 60
VERDICT_VOLATILE_KEYS = frozenset({"pass_at", "fair_share"})
"""Keys whose change alone does not rewrite a verdict younger than VERDICT_REFRESH_SECONDS: the
fair-share numbers drift every pass (usage decays, waits grow)."""

_AR = AgentResource._meta.db_table
_SESSION = Session._meta.db_table

# Rows locked in one order (agent, slot) before either update: `UPDATE ... FROM unnest()` locks
# them in whatever order its join visits them, so two releases (or a release and a reservation)
# over the same agents could each hold a row the other waits for.
_LOCK_SQL = f"""
SELECT 1 FROM {_AR} AS ar
JOIN unnest(%s::text[], %s::text[]) AS v(agent_id, slot_name)
  ON ar.agent_id = v.agent_id AND ar.slot_name = v.slot_name
ORDER BY ar.agent_id, ar.slot_name
FOR UPDATE OF ar
"""
_RESERVE_SQL = f"""
UPDATE {_AR} AS ar SET used = ar.used + v.delta
FROM unnest(%s::text[], %s::text[], %s::numeric[]) AS v(agent_id, slot_name, delta)
WHERE ar.agent_id = v.agent_id AND ar.slot_name = v.slot_name
  AND ar.used + v.delta <= ar.capacity
RETURNING ar.agent_id, ar.slot_name
"""
_RELEASE_SQL = f"""
UPDATE {_AR} AS ar SET used = GREATEST(ar.used - v.delta, 0)
FROM unnest(%s::text[], %s::text[], %s::numeric[]) AS v(agent_id, slot_name, delta)
WHERE ar.agent_id = v.agent_id AND ar.slot_name = v.slot_name
RETURNING ar.agent_id, ar.slot_name, ar.used
"""
_SESSIONS_PLACED_SQL = f"""
UPDATE {_SESSION} AS s
SET occupying_slots = v.slots, status_data = COALESCE(s.status_data, '{{}}'::jsonb) - 'scheduler'
FROM unnest(%s::uuid[], %s::jsonb[]) AS v(id, slots)
WHERE s.id = v.id
"""
_VERDICTS_SQL = f"""
UPDATE {_SESSION} AS s
SET status_data = COALESCE(s.status_data, '{{}}'::jsonb)
    || jsonb_build_object('scheduler', v.verdict)
FROM unnest(%s::uuid[], %s::jsonb[]) AS v(id, verdict)
WHERE s.id = v.id AND s.status = %s
"""


class _Refused(Exception):
    """A conditional update found less room than planned: roll the savepoint back."""


@dataclass(slots=True)
class CommitResult:
    scheduled: list[UUID] = field(default_factory=list)
    refused: list[UUID] = field(default_factory=list)
    cancelled: list[UUID] = field(default_factory=list)
    verdicts_written: int = 0


Deltas = dict[tuple[str, str], int]


def _columns(deltas: Mapping[tuple[str, str], int]) -> list[list[object]]:
    keys = sorted(k for k, v in deltas.items() if v)
    return [
        [agent for agent, _ in keys],
        [slot for _, slot in keys],
        [Decimal(deltas[k]).scaleb(-6) for k in keys],
    ]


def _reserve(deltas: Deltas) -> bool:
    """Apply all `deltas` or none (inside a savepoint). True when all rows had room."""
    columns = _columns(deltas)
    if not columns[0]:
        return True
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_LOCK_SQL, columns[:2])
            cursor.execute(_RESERVE_SQL, columns)
            if len(cursor.fetchall()) != len(columns[0]):
                raise _Refused
    except _Refused:
        return False
    return True


def _release(deltas: Deltas) -> None:
    columns = _columns(deltas)
    if not columns[0]:
        return
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, columns[:2])
        cursor.execute(_RELEASE_SQL, columns)


def _merge(placements: Iterable[Placement]) -> Deltas:
    out: Deltas = {}
    for placement in placements:
        for key, amount in placement.total_by_agent().items():
            out[key] = out.get(key, 0) + amount
    return out


def plan_commit(*, snapshot: Snapshot, plan: Plan, now: datetime) -> CommitResult:
    """Write `plan` in the current transaction (the caller holds it and the group lock)."""
    assert KernelStatus.SCHEDULED in KERNEL_TRANSITIONS[KernelStatus.PENDING]
    result = CommitResult()
    placements = list(plan.placements)
    refused: list[Placement] = []
    if placements and not _reserve(_merge(placements)):
        # Someone shrank capacity under us: retry one session per savepoint.
        kept: list[Placement] = []
        for placement in placements:
            (kept if _reserve(_merge([placement])) else refused).append(placement)
        placements = kept
        log.warning(
            "capacity changed during the pass",
            extra={"resource_group": snapshot.resource_group_id, "refused": len(refused)},
        )
    by_id = {p.session_id: p for p in placements}
    if placements:
        moved = set(
            sessions_transition_bulk(
                session_ids=list(by_id),
                expected=SessionStatus.PENDING,
                to=SessionStatus.SCHEDULED,
                reason=REASON_SCHEDULED,
                now=now,
            )
        )
        gone = [p for sid, p in by_id.items() if sid not in moved]
        if gone:  # cancelled or locked by someone else meanwhile: give their capacity back
            _release(_merge(gone))
        placements = [p for p in placements if p.session_id in moved]
        _kernels_schedule(placements, now=now)
        _sessions_mark_placed(placements)
        result.scheduled = [p.session_id for p in placements]

    sessions = {s.id: s for s in snapshot.sessions}
    pending = [(sessions[p.session_id], _refused_verdict()) for p in refused] + plan.pending
    result.refused = [p.session_id for p in refused]
    result.verdicts_written = _verdicts_write(pending, now=now)
    result.cancelled = _cancel(plan.cancellations, now=now)
    return result


def _refused_verdict() -> Verdict:
    return Verdict(
        VERDICT_INSUFFICIENT_CAPACITY,
        "Capacity changed while the scheduler was placing this session; it will be retried.",
    )


def _kernels_schedule(placements: Sequence[Placement], *, now: datetime) -> None:
    ids: list[UUID] = []
    agents: list[str] = []
    slots: list[str] = []
    planned: dict[UUID, tuple[str, dict[str, int]]] = {}
    for placement in placements:
        for kernel in placement.kernels:
            ids.append(kernel.kernel_id)
            agents.append(kernel.agent_id)
            slots.append(json.dumps(slots_to_json(kernel.slots)))
            planned[kernel.kernel_id] = (kernel.agent_id, kernel.slots)
    if not ids:
        return
    updated = kernels_schedule_bulk(
        kernel_ids=ids, agent_ids=agents, slots_json=slots, reason=REASON_SCHEDULED, now=now
    )
    missing = [kid for kid in ids if kid not in updated]
    if missing:  # a kernel left PENDING under us: it holds nothing, so give its share back
        log.warning("kernels not pending any more", extra={"kernel_ids": [str(k) for k in missing]})
        deltas: Deltas = {}
        for kid in missing:
            agent_id, kernel_slots = planned[kid]
            for slot, amount in kernel_slots.items():
                deltas[(agent_id, slot)] = deltas.get((agent_id, slot), 0) + amount
        _release(deltas)


def _sessions_mark_placed(placements: Sequence[Placement]) -> None:
    if not placements:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _SESSIONS_PLACED_SQL,
            [
                [p.session_id for p in placements],
                [json.dumps(slots_to_json(p.total())) for p in placements],
            ],
        )


def _verdict_unchanged(previous: Mapping[str, object] | None, new: dict[str, object]) -> bool:
    if not previous:
        return False
    for key, value in new.items():
        if key not in VERDICT_VOLATILE_KEYS and previous.get(key) != value:
            return False
    try:
        at = datetime.fromisoformat(str(previous.get("pass_at")))
        return (datetime.fromisoformat(str(new["pass_at"])) - at).total_seconds() < (
            VERDICT_REFRESH_SECONDS
        )
    except ValueError:
        return False


def _verdicts_write(pending: Sequence[tuple[PendingSession, Verdict]], *, now: datetime) -> int:
    ids: list[UUID] = []
    payloads: list[str] = []
    length = len(pending)
    for position, (session, verdict) in enumerate(pending, start=1):
        data = verdict.as_json(queue_position=position, queue_length=length, pass_at=now)
        if _verdict_unchanged(session.previous_verdict, data):
            continue
        ids.append(session.id)
        payloads.append(json.dumps(data))
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(_VERDICTS_SQL, [ids, payloads, SessionStatus.PENDING.value])
    return len(ids)


def _cancel(
    cancellations: Sequence[tuple[PendingSession, Verdict, str]], *, now: datetime
) -> list[UUID]:
    if not cancellations:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _VERDICTS_SQL,
            [
                [s.id for s, _, _ in cancellations],
                [
                    json.dumps(v.as_json(queue_position=None, queue_length=None, pass_at=now))
                    for _, v, _ in cancellations
                ],
                SessionStatus.PENDING.value,
            ],
        )
    cancelled: list[UUID] = []
    by_reason: dict[str, list[UUID]] = {}
    for session, _, reason in cancellations:
        by_reason.setdefault(reason, []).append(session.id)
    for reason, ids in by_reason.items():
        moved = sessions_transition_bulk(
            session_ids=ids,
            expected=SessionStatus.PENDING,
            to=SessionStatus.CANCELLED,
            reason=reason,
            now=now,
        )
        kernels_cancel_bulk(session_ids=moved, reason=reason, now=now)
        cancelled += moved
    return cancelled


# --- release ---------------------------------------------------------------------------------


def agent_capacity_reserve(*, agent_id: str, slots: Mapping[str, int]) -> bool:
    """Reserve scaled `slots` on one agent (all or nothing, in a savepoint); for warm pools."""
    return _reserve({(agent_id, slot): amount for slot, amount in slots.items()})


def agent_capacity_release(*, agent_id: str, slots: Mapping[str, int]) -> None:
    """Give back what `agent_capacity_reserve` took (the caller clears its holder's flag)."""
    _release({(agent_id, slot): amount for slot, amount in slots.items()})


def kernel_release_resources(kernel_id: UUID | str) -> bool:
    """Give back what `kernel_id` holds on its agent. Idempotent: True only when it held some.

    Call when a kernel terminates, fails to start, or its agent is lost. Hints the scheduler of
    the kernel's resource group on commit.
    """
    with transaction.atomic():
        row = (
            Kernel.objects.select_for_update(of=("self",))
            .filter(pk=kernel_id)
            .values_list(
                "holds_resources", "agent_id", "occupied_slots", "session__resource_group_id"
            )
            .first()
        )
        if row is None:
            return False
        holds, agent_id, occupied, group_id = row
        if not holds:
            return False
        if agent_id is not None:
            _release(
                {(agent_id, slot): amount for slot, amount in slots_from_json(occupied).items()}
            )
        Kernel.objects.filter(pk=kernel_id).update(holds_resources=False)
        log.info(
            "kernel resources released",
            extra={"kernel_id": str(kernel_id), "agent_id": agent_id, "resource_group": group_id},
        )
        scheduler_hint(group_id)
    return True
