"""Validators: may this pending session start now? Each returns a Verdict (failure) or None.

They read the snapshot plus the occupancy of sessions already placed earlier in the same pass
(the `Occupancy` tracker), never the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from sessions_app.enums import SessionResult, SessionStatus

from .types import (
    SCALE,
    Check,
    PendingSession,
    SlotLimit,
    Slots,
    Snapshot,
    Verdict,
    amount_humanized,
    amount_to_str,
    slots_add,
)

VERDICT_INSUFFICIENT_CAPACITY = "insufficient-capacity"
VERDICT_POLICY_LIMIT = "policy-limit"
VERDICT_CONCURRENCY_LIMIT = "concurrency-limit"
VERDICT_DEPENDENCY_PENDING = "dependency-pending"
VERDICT_DEPENDENCY_FAILED = "dependency-failed"
VERDICT_STARTS_AT_FUTURE = "starts-at-future"
VERDICT_NO_AGENT_FOR_ARCHITECTURE = "no-agent-for-architecture"
VERDICT_NO_ALIVE_AGENTS = "no-alive-agents"
VERDICT_DESIGNATED_AGENT_UNAVAILABLE = "designated-agent-unavailable"
VERDICT_PENDING_TIMEOUT = "pending-timeout"

_FAILED_DEPENDENCY_STATUSES = frozenset({SessionStatus.CANCELLED, SessionStatus.ERROR})


class Occupancy:
    """What keypairs, projects, domains and users hold, updated as the pass places sessions."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.keypair = {k: dict(v) for k, v in snapshot.keypair_occupancy.items()}
        self.project = {k: dict(v) for k, v in snapshot.project_occupancy.items()}
        self.domain = {k: dict(v) for k, v in snapshot.domain_occupancy.items()}
        self.user = {k: dict(v) for k, v in snapshot.user_occupancy.items()}
        self.user_group = {k: dict(v) for k, v in snapshot.user_group_occupancy.items()}
        self.concurrency = dict(snapshot.keypair_concurrency)

    def add(self, session: PendingSession, slots: Mapping[str, int]) -> None:
        slots_add(self.keypair.setdefault(session.access_key, {}), slots)
        slots_add(self.project.setdefault(session.project_id, {}), slots)
        slots_add(self.domain.setdefault(session.domain_id, {}), slots)
        slots_add(self.user.setdefault(session.user_id, {}), slots)
        slots_add(self.user_group.setdefault(session.user_id, {}), slots)
        self.concurrency[session.access_key] = self.concurrency.get(session.access_key, 0) + 1


def check_starts_at(session: PendingSession, snapshot: Snapshot, occ: Occupancy) -> Verdict | None:
    if session.starts_at is None or session.starts_at <= snapshot.now:
        return None
    at = session.starts_at.isoformat()
    return Verdict(
        VERDICT_STARTS_AT_FUTURE,
        f"The session is set to start at {at}.",
        [Check("starts-at", {"starts_at": at, "now": snapshot.now.isoformat()})],
    )


def dependency_failed(status: str, result: str) -> bool:
    if status in _FAILED_DEPENDENCY_STATUSES:
        return True
    return status == SessionStatus.TERMINATED and result != SessionResult.SUCCESS


def check_dependencies(
    session: PendingSession, snapshot: Snapshot, occ: Occupancy
) -> Verdict | None:
    failed: list[Check] = []
    waiting: list[Check] = []
    for dep in session.dependencies:
        if dep.status == SessionStatus.TERMINATED and dep.result == SessionResult.SUCCESS:
            continue
        check = Check(
            "dependency",
            {"depends_on": str(dep.session_id), "status": dep.status, "result": dep.result},
        )
        (failed if dependency_failed(dep.status, dep.result) else waiting).append(check)
    if failed:
        ids = ", ".join(c.data["depends_on"] for c in failed)
        return Verdict(
            VERDICT_DEPENDENCY_FAILED,
            f"A session this one depends on did not succeed ({ids}); it can never start.",
            failed + waiting,
        )
    if waiting:
        ids = ", ".join(c.data["depends_on"] for c in waiting)
        return Verdict(
            VERDICT_DEPENDENCY_PENDING,
            f"Waiting for {len(waiting)} session(s) it depends on to finish successfully: {ids}.",
            waiting,
        )
    return None


def check_concurrency(
    session: PendingSession, snapshot: Snapshot, occ: Occupancy
) -> Verdict | None:
    policy = snapshot.keypair_policies.get(session.access_key)
    if policy is None:
        return None
    current = occ.concurrency.get(session.access_key, 0)
    limit = policy.max_concurrent_sessions
    if current + 1 <= limit:
        return None
    return Verdict(
        VERDICT_CONCURRENCY_LIMIT,
        f"Keypair {session.access_key} already runs {current} session(s); its resource policy "
        f"{policy.name!r} allows {limit} at a time.",
        [
            Check(
                "keypair-concurrency",
                {
                    "requested": 1,
                    "occupied": current,
                    "limit": limit,
                    "short_by": current + 1 - limit,
                },
            )
        ],
    )


def _limit_checks(
    name: str, limit: SlotLimit, occupied: Mapping[str, int], requested: Slots
) -> list[Check]:
    checks: list[Check] = []
    for slot, amount in sorted(requested.items()):
        bound = limit.limit_for(slot)
        if bound is None:
            continue
        have = occupied.get(slot, 0)
        if have + amount > bound:
            checks.append(
                Check(
                    name,
                    {
                        "slot": slot,
                        "requested": amount_to_str(amount),
                        "occupied": amount_to_str(have),
                        "limit": amount_to_str(bound),
                        "short_by": amount_to_str(have + amount - bound),
                    },
                )
            )
    return checks


def check_slot_limits(
    session: PendingSession, snapshot: Snapshot, occ: Occupancy
) -> Verdict | None:
    requested = session.requested_total
    checks: list[Check] = []
    policy = snapshot.keypair_policies.get(session.access_key)
    if policy is not None:
        checks += _limit_checks(
            "keypair-resource-policy",
            policy.total,
            occ.keypair.get(session.access_key, {}),
            requested,
        )
    user_limit = snapshot.user_limits.get(session.user_id)
    if user_limit is not None:
        checks += _limit_checks(
            "user-resource-policy",
            user_limit,
            occ.user.get(session.user_id, {}),
            requested,
        )
    project_limit = snapshot.project_limits.get(session.project_id)
    if project_limit is not None:
        checks += _limit_checks(
            "project-resource-limit",
            project_limit,
            occ.project.get(session.project_id, {}),
            requested,
        )
    domain_limit = snapshot.domain_limits.get(session.domain_id)
    if domain_limit is not None:
        checks += _limit_checks(
            "domain-resource-limit",
            domain_limit,
            occ.domain.get(session.domain_id, {}),
            requested,
        )
    if not checks:
        return None
    parts = [
        f"{c.check.removesuffix('-resource-policy').removesuffix('-resource-limit')} "
        f"allows {_human(c, 'limit')} {c.data['slot']}, {_human(c, 'occupied')} in use, "
        f"{_human(c, 'requested')} requested"
        for c in checks
    ]
    return Verdict(
        VERDICT_POLICY_LIMIT, "Resource limit reached: " + "; ".join(parts) + ".", checks
    )


def _human(check: Check, key: str) -> str:
    return amount_humanized(check.data["slot"], int(Decimal(check.data[key]) * SCALE))


Validator = Callable[[PendingSession, Snapshot, Occupancy], Verdict | None]

VALIDATORS: tuple[Validator, ...] = (
    check_starts_at,
    check_dependencies,
    check_concurrency,
    check_slot_limits,
)


def validate(session: PendingSession, snapshot: Snapshot, occ: Occupancy) -> Verdict | None:
    """The first failing validator's verdict, with the checks of every failing one."""
    first: Verdict | None = None
    for validator in VALIDATORS:
        verdict = validator(session, snapshot, occ)
        if verdict is None:
            continue
        if first is None:
            first = verdict
        else:
            first.checks.extend(verdict.checks)
        if verdict.code == VERDICT_DEPENDENCY_FAILED:
            break
    return first
