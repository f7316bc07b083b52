"""Validators through a pass: policy limits, concurrency, project/domain totals, dependencies,
starts_at. Each leaves the session PENDING with a machine-readable verdict."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import time_machine
from django.utils import timezone

from agents_app.models import ResourceGroup
from backendai_site.accounts.enums import DefaultForUnspecified
from sessions_app.enums import SessionResult, SessionStatus
from sessions_app.scheduler.runner import PassReport
from tests.factories.accounts import KeypairResourcePolicyFactory
from tests.factories.sessions import (
    KeyPairFactory,
    agent_with_capacity,
    session_dependency_create,
)
from tests.helpers.scheduler import GIB, holding_session, pending, same_owner, statuses, verdict

RunPass = Callable[..., PassReport]


def _owner(**policy: Any) -> Any:
    policy.setdefault("default_for_unspecified", DefaultForUnspecified.UNLIMITED)
    return KeyPairFactory(resource_policy=KeypairResourcePolicyFactory(name="p-test", **policy))


class TestKeypairResourcePolicy:
    def test_total_slots_limit_blocks_with_policy_verdict(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent = agent_with_capacity(group, cpu=16)
        owner = _owner(
            total_resource_slots={"cpu": "4"},
            default_for_unspecified=DefaultForUnspecified.UNLIMITED,
        )
        first = pending(group, cpu="3", access_key=owner, user=owner.user, domain=owner.user.domain)
        holding = same_owner(first)
        second = pending(group, cpu="2", **holding)

        run_pass(group)

        assert statuses(first, second) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]
        data = verdict(second)
        assert data["verdict"] == "policy-limit"
        assert data["checks"] == [
            {
                "check": "keypair-resource-policy",
                "slot": "cpu",
                "requested": "2",
                "occupied": "3",
                "limit": "4",
                "short_by": "1",
            }
        ]
        assert agent.resources.get(slot_name="cpu").used == 3

    def test_limited_default_bounds_unlisted_slots_to_zero(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent_with_capacity(group, cpu=16)
        owner = _owner(
            total_resource_slots={"cpu": "8"}, default_for_unspecified=DefaultForUnspecified.LIMITED
        )
        session = pending(group, access_key=owner, user=owner.user, domain=owner.user.domain)

        run_pass(group)

        data = verdict(session)
        assert data["verdict"] == "policy-limit"
        assert [(c["slot"], c["limit"]) for c in data["checks"]] == [("mem", "0")]

    def test_unlimited_default_allows_unlisted_slots(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent_with_capacity(group, cpu=16)
        owner = _owner(
            total_resource_slots={"cpu": "8"},
            default_for_unspecified=DefaultForUnspecified.UNLIMITED,
        )
        session = pending(group, access_key=owner, user=owner.user, domain=owner.user.domain)

        run_pass(group)

        assert statuses(session) == [SessionStatus.SCHEDULED]

    def test_occupancy_in_other_groups_counts(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        other = ResourceGroup.objects.create(name="other-group")
        other_agent = agent_with_capacity(other, cpu=8)
        agent_with_capacity(group, cpu=8)
        owner = _owner(
            total_resource_slots={"cpu": "4"},
            default_for_unspecified=DefaultForUnspecified.UNLIMITED,
        )
        holder = holding_session(
            other, other_agent.id, cpu="3", access_key=owner, user=owner.user,
            domain=owner.user.domain,
        )  # fmt: skip
        session = pending(group, cpu="2", **same_owner(holder))

        run_pass(group)

        assert verdict(session)["verdict"] == "policy-limit"


class TestConcurrencyLimit:
    def test_max_concurrent_sessions_counts_running_and_placed(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent = agent_with_capacity(group, cpu=16)
        owner = _owner(max_concurrent_sessions=2)
        holder = holding_session(
            group, agent.id, access_key=owner, user=owner.user, domain=owner.user.domain
        )
        first = pending(group, **same_owner(holder))
        second = pending(group, **same_owner(holder))

        run_pass(group)

        assert sorted(statuses(first, second)) == [SessionStatus.PENDING, SessionStatus.SCHEDULED]
        waiting = first if first.status == SessionStatus.PENDING else second
        data = verdict(waiting)
        assert data["verdict"] == "concurrency-limit"
        assert data["checks"][0] == {
            "check": "keypair-concurrency",
            "requested": 1,
            "occupied": 2,
            "limit": 2,
            "short_by": 1,
        }


class TestUserLimits:
    def test_user_policy_counts_every_keypair_of_the_user(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent = agent_with_capacity(group, cpu=16)
        holder = holding_session(group, agent.id, cpu="2")
        policy = holder.user.resource_policy
        policy.total_resource_slots = {"cpu": "3"}
        policy.save(update_fields=["total_resource_slots"])
        second = pending(group, cpu="2", user=holder.user)

        run_pass(group)

        data = verdict(second)
        assert data["verdict"] == "policy-limit"
        assert data["checks"][0]["check"] == "user-resource-policy"
        assert data["checks"][0]["short_by"] == "1"


class TestProjectAndDomainLimits:
    def test_project_total_slots(self, group: ResourceGroup, run_pass: RunPass) -> None:
        agent_with_capacity(group, cpu=16)
        session = pending(group, cpu="3")
        session.project.total_resource_slots = {"cpu": "2"}
        session.project.save(update_fields=["total_resource_slots"])

        run_pass(group)

        data = verdict(session)
        assert data["verdict"] == "policy-limit"
        assert data["checks"][0]["check"] == "project-resource-limit"
        assert data["checks"][0]["short_by"] == "1"

    def test_domain_total_slots_counts_every_member(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent = agent_with_capacity(group, cpu=16)
        holder = holding_session(group, agent.id, cpu="2")
        holder.domain.total_resource_slots = {"cpu": "3"}
        holder.domain.save(update_fields=["total_resource_slots"])
        other_member = pending(group, cpu="2", domain=holder.domain)

        run_pass(group)

        data = verdict(other_member)
        assert data["verdict"] == "policy-limit"
        assert data["checks"][0]["check"] == "domain-resource-limit"


class TestDependencies:
    def test_waits_until_dependency_succeeds(self, group: ResourceGroup, run_pass: RunPass) -> None:
        agent_with_capacity(group, cpu=16)
        dep = session_dependency_create(
            session=pending(group), depends_on=pending(group, status=SessionStatus.RUNNING)
        )

        run_pass(group)

        data = verdict(dep.session)
        assert data["verdict"] == "dependency-pending"
        assert data["checks"][0]["depends_on"] == str(dep.depends_on_id)

        dep.depends_on.status = SessionStatus.TERMINATED
        dep.depends_on.result = SessionResult.SUCCESS
        dep.depends_on.save(update_fields=["status", "result"])
        run_pass(group)

        assert statuses(dep.session) == [SessionStatus.SCHEDULED]

    def test_failed_dependency_cancels_with_verdict(
        self, group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent_with_capacity(group, cpu=16)
        failed = pending(group, status=SessionStatus.TERMINATED, result=SessionResult.FAILURE)
        dep = session_dependency_create(session=pending(group), depends_on=failed)

        report = run_pass(group)

        assert report.cancelled == [dep.session_id]
        assert statuses(dep.session) == [SessionStatus.CANCELLED]
        dep.session.refresh_from_db()
        assert dep.session.status_info == "dependency-failed"
        assert dep.session.status_data["scheduler"]["verdict"] == "dependency-failed"
        assert set(dep.session.kernels.values_list("status", flat=True)) == {"CANCELLED"}

    def test_cancelled_dependency_also_fails(self, group: ResourceGroup, run_pass: RunPass) -> None:
        agent_with_capacity(group, cpu=16)
        dep = session_dependency_create(
            session=pending(group), depends_on=pending(group, status=SessionStatus.CANCELLED)
        )

        run_pass(group)

        assert statuses(dep.session) == [SessionStatus.CANCELLED]


class TestStartsAt:
    def test_waits_until_starts_at(self, group: ResourceGroup, run_pass: RunPass) -> None:
        agent_with_capacity(group, cpu=16)
        start = timezone.now() + timedelta(hours=1)
        session = pending(group, starts_at=start)

        with time_machine.travel(start - timedelta(minutes=1), tick=False):
            run_pass(group)
            data = verdict(session)
        assert data["verdict"] == "starts-at-future"
        assert data["checks"][0]["starts_at"] == start.isoformat()

        with time_machine.travel(start + timedelta(seconds=1), tick=False):
            run_pass(group)
        assert statuses(session) == [SessionStatus.SCHEDULED]

    def test_past_starts_at_schedules(self, group: ResourceGroup, run_pass: RunPass) -> None:
        agent_with_capacity(group, cpu=16, mem=64 * GIB)
        session = pending(group, starts_at=timezone.now() - timedelta(minutes=5))

        run_pass(group)

        assert statuses(session) == [SessionStatus.SCHEDULED]
