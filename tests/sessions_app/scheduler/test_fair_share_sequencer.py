"""The fair-share sequencer on plain data: levels, weights, feedback, aging and its explanation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sessions_app.scheduler.sequencers import make_sequencer
from sessions_app.scheduler.sequencers_fair_share import FairShareSequencer
from sessions_app.scheduler.types import (
    SCALE,
    FairShareInputs,
    FairShareLeaf,
    PendingKernel,
    PendingSession,
    Slots,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CAPACITY: Slots = {"cpu": 4 * SCALE}
HOUR = 3600.0


def _leaf(domain: str = "d", project: UUID | None = None) -> FairShareLeaf:
    return (domain, project or uuid.uuid4(), uuid.uuid4())


def _session(leaf: FairShareLeaf, *, waited: float = 0.0, cpu: int = 1) -> PendingSession:
    requested = {"cpu": cpu * SCALE}
    return PendingSession(
        id=uuid.uuid4(),
        access_key=f"AK{leaf[2].hex[:10]}",
        user_id=leaf[2],
        project_id=leaf[1],
        domain_id=1,
        priority=10,
        created_at=NOW - timedelta(seconds=waited),
        cluster_mode="single-node",
        architecture="x86_64",
        kernels=[PendingKernel(uuid.uuid4(), 1, dict(requested))],
        requested_total=dict(requested),
        domain_name=leaf[0],
    )


def _cpu_hours(hours: float) -> dict[str, float]:
    return {"cpu": hours * HOUR}


def _sequencer(
    sessions: list[PendingSession],
    usage: Mapping[FairShareLeaf, dict[str, float]] | None = None,
    *,
    occupancy: Mapping[FairShareLeaf, Slots] | None = None,
    aging: float = 10 * HOUR,
    occupancy_seconds: float = HOUR,
    domains: dict[str, float] | None = None,
    projects: dict[uuid.UUID, float] | None = None,
    users: dict[uuid.UUID, float] | None = None,
) -> FairShareSequencer:
    inputs = FairShareInputs(
        aging_seconds=aging,
        occupancy_seconds=occupancy_seconds,
        usage=dict(usage or {}),
        domain_weights=domains or {},
        project_weights=projects or {},
        user_weights=users or {},
    )
    sequencer = make_sequencer(
        "fair-share",
        sessions,
        capacity=CAPACITY,
        user_occupancy={},
        now=NOW,
        fair_share=inputs,
        leaf_occupancy=occupancy or {},
    )
    assert isinstance(sequencer, FairShareSequencer)
    return sequencer


def _order(sequencer: FairShareSequencer, *, place: bool = False) -> list[UUID]:
    out: list[UUID] = []
    while (session := sequencer.next_session()) is not None:
        out.append(session.id)
        if place:
            sequencer.placed(session, session.requested_total)
    return out


class TestFairShareOrder:
    def test_light_user_goes_before_an_older_heavy_session(self) -> None:
        project = uuid.uuid4()
        heavy, light = _leaf(project=project), _leaf(project=project)
        heavy_s = _session(heavy, waited=600)
        light_s = _session(light)

        order = _order(_sequencer([heavy_s, light_s], {heavy: _cpu_hours(10)}))

        assert order == [light_s.id, heavy_s.id]

    def test_without_usage_the_order_is_fifo(self) -> None:
        sessions = [_session(_leaf(), waited=w) for w in (5, 30, 10)]

        order = _order(_sequencer(sessions))

        assert order == [sessions[1].id, sessions[2].id, sessions[0].id]

    def test_a_heavier_weight_earns_a_larger_share(self) -> None:
        project = uuid.uuid4()
        big, small = _leaf(project=project), _leaf(project=project)
        big_s, small_s = _session(big), _session(small, waited=60)
        usage = {big: _cpu_hours(3), small: _cpu_hours(2)}

        weighted = _sequencer([big_s, small_s], usage, users={big[2]: 3.0})
        unweighted = _sequencer([big_s, small_s], usage)

        assert _order(weighted) == [big_s.id, small_s.id]
        assert _order(unweighted) == [small_s.id, big_s.id]

    def test_a_light_user_of_a_heavy_project_waits_behind_a_light_project(self) -> None:
        heavy_project, light_project = uuid.uuid4(), uuid.uuid4()
        hog = _leaf(project=heavy_project)
        light_in_heavy = _leaf(project=heavy_project)
        moderate_in_light = _leaf(project=light_project)
        a = _session(light_in_heavy, waited=60)
        b = _session(moderate_in_light)
        usage = {
            hog: _cpu_hours(50),
            light_in_heavy: _cpu_hours(0.1),
            moderate_in_light: _cpu_hours(5),
        }

        order = _order(_sequencer([a, b], usage))

        assert order == [b.id, a.id]  # user-level usage alone would put `a` first

    def test_domains_rank_before_projects(self) -> None:
        busy = _leaf("busy")
        busy_neighbour = _leaf("busy")
        quiet = _leaf("quiet")
        a = _session(busy_neighbour, waited=60)
        b = _session(quiet)
        usage = {busy: _cpu_hours(20), busy_neighbour: _cpu_hours(0.5), quiet: _cpu_hours(4)}

        assert _order(_sequencer([a, b], usage)) == [b.id, a.id]
        # a larger weight for the busy domain lifts its users ahead
        assert _order(_sequencer([a, b], usage, domains={"busy": 10.0})) == [a.id, b.id]

    def test_held_slots_count_as_expected_usage(self) -> None:
        project = uuid.uuid4()
        holder, idle = _leaf(project=project), _leaf(project=project)
        holder_s, idle_s = _session(holder, waited=60), _session(idle)

        order = _order(_sequencer([holder_s, idle_s], occupancy={holder: {"cpu": 2 * SCALE}}))

        assert order == [idle_s.id, holder_s.id]

    def test_placements_feed_back_so_users_alternate(self) -> None:
        first, second = _leaf(), _leaf()
        early = [_session(first, waited=100 - i) for i in range(3)]
        late = [_session(second, waited=50 - i) for i in range(3)]

        order = _order(_sequencer(early + late), place=True)

        assert order == [early[0].id, late[0].id, early[1].id, late[1].id, early[2].id, late[2].id]

    def test_no_feedback_without_occupancy_seconds(self) -> None:
        first, second = _leaf(), _leaf()
        early = [_session(first, waited=100 - i) for i in range(2)]
        late = [_session(second, waited=50 - i) for i in range(2)]

        order = _order(_sequencer(early + late, occupancy_seconds=0), place=True)

        assert order == [s.id for s in early + late]

    def test_slots_the_group_lacks_are_ignored(self) -> None:
        project = uuid.uuid4()
        gpu_user, cpu_user = _leaf(project=project), _leaf(project=project)
        gpu_s, cpu_s = _session(gpu_user), _session(cpu_user, waited=60)
        usage = {gpu_user: {"cuda.device": 1e9}, cpu_user: _cpu_hours(1)}

        assert _order(_sequencer([gpu_s, cpu_s], usage)) == [gpu_s.id, cpu_s.id]


class TestFairShareAging:
    def test_an_old_heavy_session_goes_ahead_of_a_fresh_light_one(self) -> None:
        project = uuid.uuid4()
        heavy, light = _leaf(project=project), _leaf(project=project)
        usage = {heavy: _cpu_hours(1000)}
        fresh = _session(light)

        young = _session(heavy, waited=0.4 * HOUR)
        old = _session(heavy, waited=0.6 * HOUR)

        # two ranks: the heavy user's position is 1/2, so waiting half the bound evens it out
        assert _order(_sequencer([young, fresh], usage, aging=HOUR)) == [fresh.id, young.id]
        assert _order(_sequencer([old, fresh], usage, aging=HOUR)) == [old.id, fresh.id]

    def test_waiting_the_whole_bound_beats_any_usage(self) -> None:
        project = uuid.uuid4()
        leaves = [_leaf(project=project) for _ in range(20)]
        usage = {leaf: _cpu_hours(10.0**i) for i, leaf in enumerate(leaves)}
        heaviest = _session(leaves[-1], waited=HOUR + 1)
        newcomers = [_session(leaf) for leaf in leaves[:-1]]

        order = _order(_sequencer([*newcomers, heaviest], usage, aging=HOUR))

        assert order[0] == heaviest.id


class TestFairShareExplanation:
    def test_factor_ratio_usage_weight_and_levels(self) -> None:
        project = uuid.uuid4()
        heavy, light = _leaf("dom", project=project), _leaf("dom", project=project)
        heavy_s, light_s = _session(heavy, waited=120), _session(light)
        usage = {heavy: _cpu_hours(3), light: _cpu_hours(1)}  # capacity 4 cpu
        sequencer = _sequencer([heavy_s, light_s], usage, users={heavy[2]: 2.0})

        _order(sequencer)
        explained = sequencer.explain(heavy_s.id)

        assert explained is not None
        # usage in seconds of the whole group: 3 cpu-hours of 4 cpu = 2700 s
        assert explained["usage"] == 2700
        assert explained["weight"] == 2
        # usage share 3/4 over weight share 2/3
        assert explained["ratio"] == 1.125
        assert explained["rank"] == 2
        assert explained["ranks"] == 2
        assert explained["factor"] == 0.5
        assert explained["waited_seconds"] == 120
        assert explained["levels"] == [
            {"level": "domain", "id": "dom", "usage": 3600, "weight": 1, "ratio": 1},
            {"level": "project", "id": str(project), "usage": 3600, "weight": 1, "ratio": 1},
            {"level": "user", "id": str(heavy[2]), "usage": 2700, "weight": 2, "ratio": 1.125},
        ]
        light_explained = sequencer.explain(light_s.id)
        assert light_explained is not None
        assert (light_explained["factor"], light_explained["rank"]) == (1, 1)
