"""The pure planner: Snapshot in, Plan out. No ORM, no I/O."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import partial

from sessions_app.enums import ClusterMode

from .selectors import AgentPool
from .sequencers import make_sequencer
from .types import (
    SCALE,
    Check,
    KernelPlacement,
    PendingSession,
    Placement,
    Plan,
    Slots,
    Snapshot,
    Verdict,
    amount_humanized,
    amount_to_str,
    slots_add,
)
from .validators import (
    VERDICT_DEPENDENCY_FAILED,
    VERDICT_DESIGNATED_AGENT_UNAVAILABLE,
    VERDICT_INSUFFICIENT_CAPACITY,
    VERDICT_NO_AGENT_FOR_ARCHITECTURE,
    VERDICT_NO_ALIVE_AGENTS,
    VERDICT_PENDING_TIMEOUT,
    Occupancy,
    validate,
)

REASON_PENDING_TIMEOUT = "pending-timeout"
REASON_DEPENDENCY_FAILED = "dependency-failed"


def plan_pass(snapshot: Snapshot) -> Plan:
    """Decide which pending sessions go where, and why the others wait."""
    plan = Plan()
    slot_names: set[str] = set()
    for pending in snapshot.sessions:
        slot_names.update(pending.requested_total)
    pool = AgentPool(snapshot.agents, slot_names)
    occupancy = Occupancy(snapshot)
    roundrobin = dict(snapshot.roundrobin_start)

    candidates: list[PendingSession] = []
    timeout = snapshot.pending_timeout
    deadline = snapshot.now - timedelta(seconds=timeout) if timeout > 0 else None
    for pending in snapshot.sessions:
        if deadline is not None and pending.created_at < deadline:
            plan.cancellations.append(
                (pending, _timeout_verdict(pending, timeout), REASON_PENDING_TIMEOUT)
            )
        else:
            candidates.append(pending)

    capacity: Slots = {}
    for agent in snapshot.agents:
        slots_add(capacity, agent.capacity)
    sequencer = make_sequencer(
        snapshot.scheduler,
        candidates,
        capacity=capacity,
        user_occupancy=snapshot.user_group_occupancy,
        now=snapshot.now,
        fair_share=snapshot.fair_share,
        leaf_occupancy=snapshot.leaf_group_occupancy,
    )
    capacity_short: list[PendingSession] = []
    while (session := sequencer.next_session()) is not None:
        verdict = validate(session, snapshot, occupancy)
        if verdict is not None:
            if verdict.code == VERDICT_DEPENDENCY_FAILED:
                plan.cancellations.append((session, verdict, REASON_DEPENDENCY_FAILED))
            else:
                plan.pending.append((session, verdict))
            continue
        placement, verdict = _place(session, pool, snapshot.selection_strategy, roundrobin)
        if placement is None:
            if verdict is None:
                capacity_short.append(session)
                verdict = Verdict(VERDICT_INSUFFICIENT_CAPACITY, "")  # filled in below
            plan.pending.append((session, verdict))
            continue
        total = placement.total()
        occupancy.add(session, total)
        sequencer.placed(session, total)
        plan.placements.append(placement)

    # Capacity verdicts are written against the free capacity left at the end of the pass.
    short_ids = {short.id for short in capacity_short}
    for i, (waiting, _) in enumerate(plan.pending):
        if waiting.id in short_ids:
            plan.pending[i] = (waiting, _capacity_verdict(waiting, pool))
    for placement in plan.placements:
        if (explained := sequencer.explain(placement.session_id)) is not None:
            plan.fair_share[placement.session_id] = explained
    for waiting, verdict in plan.pending:
        if (explained := sequencer.explain(waiting.id)) is not None:
            plan.fair_share[waiting.id] = explained
            verdict.fair_share = explained
    plan.roundrobin_next = roundrobin
    return plan


def _place(
    session: PendingSession, pool: AgentPool, strategy: str, roundrobin: dict[str, int]
) -> tuple[Placement | None, Verdict | None]:
    """A placement, or (None, verdict) when the group cannot host it at all, or (None, None)
    when it is only short of free capacity now."""
    if not pool.agents:
        return None, Verdict(
            VERDICT_NO_ALIVE_AGENTS,
            "No agent of this resource group is alive and schedulable.",
        )
    if not pool.has_architecture(session.architecture):
        return None, Verdict(
            VERDICT_NO_AGENT_FOR_ARCHITECTURE,
            f"No alive agent of this resource group runs {session.architecture}.",
            [Check("architecture", {"architecture": session.architecture})],
        )
    designated: list[int] | None = None
    if session.designated_agents:
        designated = pool.designated_positions(session.designated_agents, session.architecture)
        if not designated:
            return None, Verdict(
                VERDICT_DESIGNATED_AGENT_UNAVAILABLE,
                "None of the designated agents is alive, schedulable and of architecture "
                f"{session.architecture}: {', '.join(session.designated_agents)}.",
                [Check("designated-agents", {"agents": list(session.designated_agents)})],
            )
    select = partial(
        pool.select,
        architecture=session.architecture,
        strategy=strategy,
        roundrobin_start=roundrobin,
        designated=designated,
    )
    if session.cluster_mode != ClusterMode.MULTI_NODE or len(session.kernels) <= 1:
        pos = select(request=session.requested_total)
        if pos is None:
            return None, None
        pool.reserve(pos, session.requested_total)
        agent_id = pool.agents[pos].id
        return Placement(
            session.id,
            [KernelPlacement(k.id, agent_id, dict(k.requested)) for k in session.kernels],
        ), None
    # multi-node: kernel by kernel, all or nothing
    reserved: list[tuple[int, Slots]] = []
    kernels: list[KernelPlacement] = []
    saved_rr = dict(roundrobin)
    for kernel in session.kernels:
        pos = select(request=kernel.requested)
        if pos is None:
            for done_pos, slots in reserved:
                pool.release(done_pos, slots)
            roundrobin.clear()
            roundrobin.update(saved_rr)
            return None, None
        pool.reserve(pos, kernel.requested)
        reserved.append((pos, kernel.requested))
        kernels.append(KernelPlacement(kernel.id, pool.agents[pos].id, dict(kernel.requested)))
    return Placement(session.id, kernels), None


def _capacity_verdict(session: PendingSession, pool: AgentPool) -> Verdict:
    among = None
    if session.designated_agents:
        among = pool.designated_positions(session.designated_agents, session.architecture)
    multi = session.cluster_mode == ClusterMode.MULTI_NODE and len(session.kernels) > 1
    per_agent: Slots = {}
    if multi:  # the largest kernel is what must fit on one agent
        for kernel in session.kernels:
            for slot, amount in kernel.requested.items():
                per_agent[slot] = max(per_agent.get(slot, 0), amount)
    else:
        per_agent = session.requested_total
    checks: list[Check] = []
    for slot, amount in sorted(per_agent.items()):
        best = pool.max_free(session.architecture, slot, among)
        if amount > best:
            checks.append(
                Check(
                    "agent-capacity",
                    {
                        "slot": slot,
                        "requested": amount_to_str(amount),
                        "available": amount_to_str(max(best, 0)),
                        "short_by": amount_to_str(amount - max(best, 0)),
                    },
                )
            )
    if checks:
        parts = [
            f"{c.data['slot']} {_h(c, 'requested')} requested, at most "
            f"{_h(c, 'available')} free on one agent (short by {_h(c, 'short_by')})"
            for c in checks
        ]
        msg = "Not enough free capacity: " + "; ".join(parts) + "."
    else:
        what = "its kernels" if multi else "all of the request"
        checks.append(
            Check(
                "agent-capacity",
                {"requested": {k: amount_to_str(v) for k, v in sorted(per_agent.items())}},
            )
        )
        msg = (
            "Each slot is free somewhere, but no agent has room for "
            f"{what} at once; waiting for capacity to be freed."
        )
    return Verdict(VERDICT_INSUFFICIENT_CAPACITY, msg, checks)


def _h(check: Check, key: str) -> str:
    return amount_humanized(check.data["slot"], int(Decimal(check.data[key]) * SCALE))


def _timeout_verdict(session: PendingSession, timeout: float) -> Verdict:
    previous = session.previous_verdict or {}
    checks = [Check("pending-timeout", {"timeout_seconds": timeout})]
    checks += [
        Check(str(c.get("check", "")), {k: v for k, v in c.items() if k != "check"})
        for c in previous.get("checks", [])
        if isinstance(c, dict)
    ]
    last = previous.get("msg")
    msg = f"Cancelled after waiting more than {timeout:g} s."
    if last:
        msg += f" It was waiting because: {last}"
    return Verdict(VERDICT_PENDING_TIMEOUT, msg, checks)
