"""Sequencers (FIFO, LIFO, DRF) and selectors (concentrated, dispersed, round-robin), with the
architecture and designated-agent filters and cluster placement, through real passes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from sessions_app.enums import ClusterMode, SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.scheduler.runner import PassReport
from tests.factories.sessions import agent_with_capacity
from tests.helpers.scheduler import holding_session, make_group, pending, statuses, used, verdict

RunPass = Callable[..., PassReport]


def _agents_of(session: Session) -> set[str | None]:
    return set(Kernel.objects.filter(session=session).values_list("agent_id", flat=True))


class TestFIFOSequencer:
    def test_oldest_first(self, db: None, run_pass: RunPass) -> None:
        group = make_group("fifo")
        agent_with_capacity(group, cpu=1)
        now = timezone.now()
        newer = pending(group, created=now)
        older = pending(group, created=now - timedelta(seconds=10))

        run_pass(group)

        assert statuses(older, newer) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]
        assert verdict(newer)["queue_position"] == 1

    def test_priority_before_age(self, db: None, run_pass: RunPass) -> None:
        group = make_group("fifo")
        agent_with_capacity(group, cpu=1)
        now = timezone.now()
        older = pending(group, created=now - timedelta(seconds=10), priority=10)
        urgent = pending(group, created=now, priority=50)

        run_pass(group)

        assert statuses(urgent, older) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]

    def test_large_head_does_not_block_small_ones(self, db: None, run_pass: RunPass) -> None:
        group = make_group("fifo")
        agent_with_capacity(group, cpu=2)
        now = timezone.now()
        big = pending(group, cpu="4", created=now - timedelta(seconds=10))
        small = pending(group, cpu="1", created=now)

        run_pass(group)

        assert statuses(big, small) == [SessionStatus.PENDING, SessionStatus.SCHEDULED]


class TestLIFOSequencer:
    def test_newest_first(self, db: None, run_pass: RunPass) -> None:
        group = make_group("lifo")
        agent_with_capacity(group, cpu=1)
        now = timezone.now()
        older = pending(group, created=now - timedelta(seconds=10))
        newer = pending(group, created=now)

        run_pass(group)

        assert statuses(newer, older) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]


class TestDRFSequencer:
    def test_lowest_dominant_share_first(self, db: None, run_pass: RunPass) -> None:
        group = make_group("drf")
        agent = agent_with_capacity(group, cpu=4)
        heavy = holding_session(group, agent.id, cpu="3")
        now = timezone.now()
        heavy_next = pending(
            group, created=now - timedelta(seconds=10), access_key=heavy.access_key,
            user=heavy.user, domain=heavy.domain, project=heavy.project,
        )  # fmt: skip
        light = pending(group, created=now)

        run_pass(group)

        assert statuses(light, heavy_next) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]

    def test_shares_update_within_a_pass(self, db: None, run_pass: RunPass) -> None:
        group = make_group("drf")
        agent_with_capacity(group, cpu=4, mem=64 * 1024**3)
        now = timezone.now()
        a1 = pending(group, cpu="1", created=now - timedelta(seconds=4))
        owner_a: dict[str, Any] = {
            "access_key": a1.access_key, "user": a1.user, "domain": a1.domain,
            "project": a1.project,
        }  # fmt: skip
        a2 = pending(group, cpu="1", created=now - timedelta(seconds=3), **owner_a)
        a3 = pending(group, cpu="1", created=now - timedelta(seconds=2), **owner_a)
        b1 = pending(group, cpu="1", created=now - timedelta(seconds=1))
        b2 = pending(group, cpu="1", created=now)

        run_pass(group)

        # FIFO would place a1, a2, a3, b1; DRF alternates users: a1, b1, a2, b2.
        assert statuses(a1, a2, a3, b1, b2) == [
            SessionStatus.SCHEDULED, SessionStatus.SCHEDULED, SessionStatus.PENDING,
            SessionStatus.SCHEDULED, SessionStatus.SCHEDULED,
        ]  # fmt: skip


class TestConcentratedSelector:
    def test_fills_the_busiest_agent_that_fits(self, db: None, run_pass: RunPass) -> None:
        group = make_group(agent_selection_strategy="concentrated")
        empty = agent_with_capacity(group, cpu=8)
        busy = agent_with_capacity(group, cpu=8)
        holding_session(group, busy.id, cpu="5")
        full = agent_with_capacity(group, cpu=8)
        holding_session(group, full.id, cpu="8")
        session = pending(group, cpu="2")

        run_pass(group)

        assert _agents_of(session) == {busy.id}
        assert used(empty.id) == 0


class TestDispersedSelector:
    def test_picks_the_emptiest_agent(self, db: None, run_pass: RunPass) -> None:
        group = make_group(agent_selection_strategy="dispersed")
        busy = agent_with_capacity(group, cpu=8)
        holding_session(group, busy.id, cpu="5")
        empty = agent_with_capacity(group, cpu=8)
        sessions = [pending(group, cpu="1") for _ in range(2)]

        run_pass(group)

        assert [_agents_of(s) for s in sessions] == [{empty.id}, {empty.id}]


class TestRoundRobinSelector:
    def test_rotates_across_agents_and_passes(self, db: None, run_pass: RunPass) -> None:
        group = make_group(agent_selection_strategy="roundrobin")
        agents = [agent_with_capacity(group, cpu=8) for _ in range(3)]
        now = timezone.now()
        first = [pending(group, created=now - timedelta(seconds=10 - i)) for i in range(2)]

        run_pass(group)
        # the on-commit save of the rotation does not run inside a test transaction: save it
        from sessions_app.scheduler.snapshot import roundrobin_save

        roundrobin_save(group.pk, {"x86_64": 2})
        later = pending(group)
        run_pass(group)

        ids = sorted(a.id for a in agents)
        assert [_agents_of(s) for s in first] == [{ids[0]}, {ids[1]}]
        assert _agents_of(later) == {ids[2]}


class TestAgentFilters:
    def test_architecture_must_match(self, db: None, run_pass: RunPass) -> None:
        group = make_group()
        arm = agent_with_capacity(group, cpu=8, architecture="aarch64")
        agent_with_capacity(group, cpu=8, architecture="x86_64")
        arm_session = pending(group, architecture="aarch64")
        riscv = pending(group, architecture="riscv64")

        run_pass(group)

        assert _agents_of(arm_session) == {arm.id}
        data = verdict(riscv)
        assert data["verdict"] == "no-agent-for-architecture"

    def test_designated_agents_only(self, db: None, run_pass: RunPass) -> None:
        group = make_group()
        agent_with_capacity(group, cpu=8)
        chosen = agent_with_capacity(group, cpu=2)
        session = pending(group, designated_agents=[chosen.id])
        too_big = pending(group, cpu="4", designated_agents=[chosen.id])
        nowhere = pending(group, designated_agents=["i-missing"])

        run_pass(group)

        assert _agents_of(session) == {chosen.id}
        assert verdict(too_big)["verdict"] == "insufficient-capacity"
        assert verdict(too_big)["checks"][0]["available"] == "1"
        assert verdict(nowhere)["verdict"] == "designated-agent-unavailable"

    def test_no_alive_agents(self, db: None, run_pass: RunPass) -> None:
        group = make_group()
        agent_with_capacity(group, cpu=8, status="LOST")
        agent_with_capacity(group, cpu=8, schedulable=False)
        session = pending(group)

        run_pass(group)

        assert verdict(session)["verdict"] == "no-alive-agents"


class TestClusterPlacement:
    def test_single_node_cluster_is_all_or_nothing_on_one_agent(
        self, db: None, run_pass: RunPass
    ) -> None:
        group = make_group()
        a = agent_with_capacity(group, cpu=3)
        b = agent_with_capacity(group, cpu=3)
        fits_on_one = pending(group, cpu="1", cluster_size=3)
        spans_two = pending(group, cpu="1", cluster_size=4)

        run_pass(group)

        assert statuses(fits_on_one, spans_two) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]
        assert len(_agents_of(fits_on_one)) == 1
        data = verdict(spans_two)
        assert data["verdict"] == "insufficient-capacity"
        assert data["checks"][0] == {
            "check": "agent-capacity", "slot": "cpu", "requested": "4", "available": "3",
            "short_by": "1",
        }  # fmt: skip
        assert used(a.id) + used(b.id) == 3

    def test_multi_node_spreads_kernels_all_or_nothing(self, db: None, run_pass: RunPass) -> None:
        group = make_group()
        a = agent_with_capacity(group, cpu=2)
        b = agent_with_capacity(group, cpu=2)
        spread = pending(group, cpu="2", cluster_size=2, cluster_mode=ClusterMode.MULTI_NODE)
        too_many = pending(group, cpu="2", cluster_size=2, cluster_mode=ClusterMode.MULTI_NODE)

        run_pass(group)

        assert statuses(spread, too_many) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]
        assert _agents_of(spread) == {a.id, b.id}
        assert _agents_of(too_many) == {None}
        assert used(a.id) == used(b.id) == 2
