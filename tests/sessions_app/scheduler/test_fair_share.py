"""The fair-share scheduler through real passes: a heavy and a light user competing for one agent,
decay and lookback of ledger usage, weights, the aging bound, verdicts, the dry run, the query
count, the options' validation and the weights' admin."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from agents_app.models import ResourceGroup
from agents_app.services.resource_groups import resource_group_modify
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.enums import SessionStatus
from sessions_app.models import FairShareWeight, Session, UsageInterval
from sessions_app.scheduler.allocation import kernel_release_resources
from sessions_app.scheduler.dry_run import scheduler_dry_run
from sessions_app.scheduler.runner import PassReport
from tests.factories.accounts import UserFactory
from tests.factories.sessions import KeyPairFactory, agent_with_capacity
from tests.helpers.credentials import make_credentials
from tests.helpers.scheduler import (
    holding_session,
    make_group,
    pending,
    same_owner,
    statuses,
    verdict,
)

pytestmark = pytest.mark.django_db

RunPass = Callable[..., PassReport]
QUERY_BUDGET = 24 + 2  # test_pass.QUERY_BUDGET, plus the ledger aggregate and the weights
HOUR = timedelta(hours=1)


def ledger_rows(
    owner: Session,
    group: ResourceGroup,
    *,
    hours: int,
    cpu: str,
    ended: datetime,
    resource_group: str | None = None,
) -> None:
    """`hours` one-hour ledger intervals of `owner`'s user ending at `ended`, holding `cpu`."""
    seconds = Decimal(3600)
    UsageInterval.objects.bulk_create(
        UsageInterval(
            kernel_id=uuid.uuid4(),
            session_id=uuid.uuid4(),
            session_name="earlier",
            user_id=owner.user_id,
            user_email=owner.user.email,
            access_key=owner.access_key_id,
            project_id=owner.project_id,
            project_name=owner.project.name,
            domain_name=owner.domain.name,
            resource_group=resource_group or group.name,
            started_at=ended - (i + 1) * HOUR,
            ended_at=ended - i * HOUR,
            seconds=seconds,
            slots={"cpu": cpu},
            slot_seconds={"cpu": str(Decimal(cpu) * seconds)},
        )
        for i in range(hours)
    )


def neighbour_of(session: Session) -> dict[str, Any]:
    """Owner fields of another user in `session`'s project."""
    user = cast(User, UserFactory(domain=session.domain))
    return {
        "user": user,
        "access_key": KeyPairFactory(user=user),
        "domain": session.domain,
        "project": session.project,
    }


@pytest.fixture
def fair_group(db: None) -> ResourceGroup:
    return make_group("fair-share", agent_selection_strategy="dispersed")


class TestHeavyAndLightUser:
    def test_light_user_goes_first_while_the_heavy_ones_still_run(
        self, fair_group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent = agent_with_capacity(fair_group, cpu=2)  # room for two 1-cpu sessions
        now = timezone.now()
        first_run = holding_session(fair_group, agent.id, cpu="1")
        heavy = same_owner(first_run)
        second_run = holding_session(fair_group, agent.id, cpu="1", **heavy)
        ledger_rows(first_run, fair_group, hours=48, cpu="2", ended=now)
        heavy_waiting = [
            pending(fair_group, created=now - timedelta(minutes=10 - i), **heavy) for i in range(3)
        ]
        lighter = neighbour_of(first_run)
        light = [
            pending(fair_group, created=now - timedelta(seconds=2 - i), **lighter) for i in range(2)
        ]

        run_pass(fair_group)  # the agent is full: everyone waits
        assert statuses(*heavy_waiting, *light) == [SessionStatus.PENDING] * 5

        kernel_release_resources(first_run.kernels.get().pk)
        run_pass(fair_group)
        assert statuses(light[0], light[1]) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]
        assert statuses(*heavy_waiting) == [SessionStatus.PENDING] * 3
        assert statuses(second_run) == [SessionStatus.RUNNING]

        kernel_release_resources(second_run.kernels.get().pk)
        run_pass(fair_group)
        assert statuses(*light) == [SessionStatus.SCHEDULED] * 2
        assert statuses(*heavy_waiting) == [SessionStatus.PENDING] * 3

    def test_a_heavy_session_past_the_aging_bound_goes_ahead(
        self, db: None, run_pass: RunPass
    ) -> None:
        group = make_group("fair-share", fair_share_aging_seconds=600)
        agent = agent_with_capacity(group, cpu=2)
        now = timezone.now()
        running = holding_session(group, agent.id, cpu="1")
        heavy = same_owner(running)
        ledger_rows(running, group, hours=48, cpu="2", ended=now)
        starving = pending(group, created=now - timedelta(seconds=1200), **heavy)
        light = pending(group, created=now, **neighbour_of(running))

        run_pass(group)

        assert statuses(starving, light) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]
        assert statuses(running) == [SessionStatus.RUNNING]


class TestLedgerUsage:
    def test_old_usage_decays(self, fair_group: ResourceGroup, run_pass: RunPass) -> None:
        agent_with_capacity(fair_group, cpu=2)
        now = timezone.now()
        recent = pending(fair_group, cpu="4", created=now - timedelta(seconds=60))
        long_ago = pending(fair_group, cpu="4", created=now, **neighbour_of(recent))
        # raw slot-seconds: 36,000 long ago against 10,800 recently
        ledger_rows(long_ago, fair_group, hours=1, cpu="10", ended=now - timedelta(days=20))
        ledger_rows(recent, fair_group, hours=1, cpu="3", ended=now - timedelta(days=1))

        with time_machine.travel(now, tick=False):
            run_pass(fair_group)

        old_share, recent_share = verdict(long_ago)["fair_share"], verdict(recent)["fair_share"]
        week = 7 * 86400
        # midpoints are half an hour before each row's end; usage is in seconds of the group
        assert old_share["usage"] == pytest.approx(
            36000 * 0.5 ** ((20 * 86400 + 1800) / week) / 2, rel=1e-5
        )
        assert recent_share["usage"] == pytest.approx(
            10800 * 0.5 ** ((86400 + 1800) / week) / 2, rel=1e-5
        )
        assert (old_share["rank"], recent_share["rank"]) == (1, 2)
        assert (verdict(long_ago)["queue_position"], verdict(recent)["queue_position"]) == (1, 2)

    def test_half_life_is_configurable(self, db: None, run_pass: RunPass) -> None:
        group = make_group("fair-share", fair_share_half_life_days=1)
        agent_with_capacity(group, cpu=2)
        now = timezone.now()
        session = pending(group, cpu="4")
        ledger_rows(session, group, hours=1, cpu="2", ended=now - timedelta(days=2) + HOUR / 2)

        with time_machine.travel(now, tick=False):
            run_pass(group)

        assert verdict(session)["fair_share"]["usage"] == pytest.approx(7200 / 4 / 2, rel=1e-5)

    def test_rows_outside_the_lookback_or_the_group_do_not_count(
        self, db: None, run_pass: RunPass
    ) -> None:
        group = make_group("fair-share", fair_share_lookback_days=10)
        agent_with_capacity(group, cpu=2)
        now = timezone.now()
        session = pending(group, cpu="4")
        ledger_rows(session, group, hours=5, cpu="2", ended=now - timedelta(days=11))
        ledger_rows(session, group, hours=5, cpu="2", ended=now, resource_group="elsewhere")
        ledger_rows(session, group, hours=1, cpu="1", ended=now)

        with time_machine.travel(now, tick=False):
            run_pass(group)

        usage = 3600 * 0.5 ** (1800 / (7 * 86400)) / 2
        assert verdict(session)["fair_share"]["usage"] == pytest.approx(usage, rel=1e-5)


class TestWeights:
    def test_weights_of_every_level_are_read(
        self, fair_group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent_with_capacity(fair_group, cpu=1)
        session = pending(fair_group, cpu="4")
        FairShareWeight.objects.create(domain=session.domain, weight=Decimal("2.5"))
        FairShareWeight.objects.create(project=session.project, weight=Decimal(3))
        FairShareWeight.objects.create(user=session.user, weight=Decimal(4))
        FairShareWeight.objects.create(
            user=cast(User, UserFactory()), weight=Decimal(9)
        )  # not competing

        run_pass(fair_group)

        share = verdict(session)["fair_share"]
        assert share["weight"] == 4
        assert [level["weight"] for level in share["levels"]] == [2.5, 3, 4]

    def test_a_larger_weight_goes_first_at_equal_usage(
        self, fair_group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent_with_capacity(fair_group, cpu=1)
        now = timezone.now()
        plain = pending(fair_group, created=now - timedelta(seconds=60))
        favoured = pending(fair_group, created=now, **neighbour_of(plain))
        for owner in (plain, favoured):
            ledger_rows(owner, fair_group, hours=4, cpu="1", ended=now)
        FairShareWeight.objects.create(user=favoured.user, weight=Decimal(2))

        run_pass(fair_group)

        assert statuses(favoured, plain) == [SessionStatus.SCHEDULED, SessionStatus.PENDING]

    def test_one_positive_weight_per_target(self, db: None) -> None:
        user = cast(User, UserFactory())
        FairShareWeight.objects.create(user=user, weight=Decimal(2))
        for fields in (
            {"user": user, "weight": Decimal(3)},
            {"user": UserFactory(), "domain": user.domain, "weight": Decimal(1)},
            {"weight": Decimal(1)},
            {"domain": user.domain, "weight": Decimal(0)},
        ):
            with pytest.raises(IntegrityError), transaction.atomic():
                FairShareWeight.objects.create(**fields)


class TestVerdict:
    def test_a_waiting_session_shows_its_factor_and_the_usage_behind_it(
        self, fair_group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent = agent_with_capacity(fair_group, cpu=1)
        now = timezone.now()
        running = holding_session(fair_group, agent.id, cpu="1")
        ledger_rows(running, fair_group, hours=2, cpu="1", ended=now)
        waiting = pending(fair_group, created=now - timedelta(seconds=90), **same_owner(running))

        with time_machine.travel(now, tick=False):
            run_pass(fair_group)

        data = verdict(waiting)
        assert data["verdict"] == "insufficient-capacity"
        assert (data["queue_position"], data["queue_length"]) == (1, 1)
        share = data["fair_share"]
        # 2 cpu-hours of a 1-cpu group, decayed by about an hour, plus what the running session
        # holds (1 cpu of 1 and 1 GiB of 8) counted for fair_share_occupancy_seconds (3600)
        decayed = sum(3600 * 0.5 ** ((h + 0.5) * 3600 / (7 * 86400)) for h in range(2))
        assert share["usage"] == pytest.approx(decayed + 3600 * (1 + 1 / 8), rel=1e-5)
        assert share["weight"] == 1
        assert share["ratio"] == 1  # the only user
        assert (share["factor"], share["rank"], share["ranks"]) == (1, 1, 1)
        assert share["waited_seconds"] == 90
        assert share["aging_seconds"] == 3600
        assert [(level["level"], level["id"]) for level in share["levels"]] == [
            ("domain", running.domain.name),
            ("project", str(running.project_id)),
            ("user", str(running.user_id)),
        ]

    def test_drifting_numbers_do_not_rewrite_a_young_verdict(
        self, fair_group: ResourceGroup, run_pass: RunPass
    ) -> None:
        agent_with_capacity(fair_group, cpu=1)
        now = timezone.now()
        session = pending(fair_group, cpu="2", created=now)
        ledger_rows(session, fair_group, hours=2, cpu="1", ended=now)

        with time_machine.travel(now, tick=False):
            assert run_pass(fair_group).verdicts_written == 1
        with time_machine.travel(now + timedelta(seconds=5), tick=False):
            assert run_pass(fair_group).verdicts_written == 0
        with time_machine.travel(now + timedelta(seconds=65), tick=False):
            assert run_pass(fair_group).verdicts_written == 1
        assert verdict(session)["fair_share"]["waited_seconds"] == 65

    def test_dry_run_shows_fair_share_for_placed_and_waiting(
        self, fair_group: ResourceGroup
    ) -> None:
        agent_with_capacity(fair_group, cpu=1)
        now = timezone.now()
        first = pending(fair_group, created=now - timedelta(seconds=30))
        second = pending(fair_group, created=now, **neighbour_of(first))
        ledger_rows(second, fair_group, hours=1, cpu="1", ended=now)
        superadmin = make_credentials(role=UserRole.SUPERADMIN).user

        result = scheduler_dry_run(actor=superadmin, resource_group=fair_group.name, now=now)

        assert result["scheduler"] == "fair-share"
        [placed] = result["placements"]
        [waiting] = result["waiting"]
        assert placed["session_id"] == str(first.pk)
        assert placed["fair_share"]["rank"] == 1
        assert waiting["session_id"] == str(second.pk)
        assert waiting["fair_share"]["usage"] > 0


class TestQueryCount:
    @pytest.mark.parametrize("count", [3, 30])
    def test_bounded_whatever_the_queue_length(
        self,
        fair_group: ResourceGroup,
        run_pass: RunPass,
        count: int,
        django_assert_max_num_queries: Any,
    ) -> None:
        for _ in range(4):
            agent_with_capacity(fair_group, cpu=4)
        now = timezone.now()
        owners = [pending(fair_group, cpu="1") for _ in range(3)]
        for i, owner in enumerate(owners):
            ledger_rows(owner, fair_group, hours=i + 1, cpu="1", ended=now)
            FairShareWeight.objects.create(user=owner.user, weight=Decimal(i + 1))
        for i in range(count - 3):
            pending(fair_group, cpu="1", **same_owner(owners[i % 3]))

        with django_assert_max_num_queries(QUERY_BUDGET) as captured:
            report = run_pass(fair_group)

        ledger_reads = [q for q in captured.captured_queries if "usageinterval" in q["sql"]]
        weight_reads = [q for q in captured.captured_queries if "fairshareweight" in q["sql"]]
        assert (len(ledger_reads), len(weight_reads)) == (1, 1)
        assert len(report.scheduled) == min(count, 16)
        assert report.pending == max(count - 16, 0)


class TestOptions:
    def test_fair_share_is_selectable_with_its_options(self, fair_group: ResourceGroup) -> None:
        superadmin = make_credentials(role=UserRole.SUPERADMIN).user
        opts = {"fair_share_half_life_days": 3, "fair_share_aging_seconds": 120}

        group = resource_group_modify(
            actor=superadmin,
            name=fair_group.name,
            changes={"scheduler": "fair-share", "scheduler_opts": opts},
        )

        group.refresh_from_db()
        assert group.scheduler == "fair-share"
        assert group.opts.fair_share_half_life_days == 3
        assert group.opts.fair_share_aging_seconds == 120
        assert group.opts.fair_share_lookback_days == 28

    @pytest.mark.parametrize(
        ("opts", "why"),
        [
            ({"fair_share_half_life_days": 0}, "greater than 0"),
            ({"fair_share_half_life_days": -1}, "greater than 0"),
            ({"fair_share_aging_seconds": 0}, "greater than 0"),
            ({"fair_share_lookback_days": "NaN"}, "finite number"),
            ({"fair_share_occupancy_seconds": -5}, "greater than or equal to 0"),
            ({"fair_share_aging_seconds": 1e300}, "less than or equal to"),
        ],
    )
    def test_bad_options_are_refused(
        self, fair_group: ResourceGroup, opts: dict[str, Any], why: str
    ) -> None:
        superadmin = make_credentials(role=UserRole.SUPERADMIN).user

        with pytest.raises(InvalidAPIParameters, match=why):
            resource_group_modify(
                actor=superadmin, name=fair_group.name, changes={"scheduler_opts": opts}
            )


class TestWeightAdmin:
    def test_superadmin_adds_a_weight(self, db: None) -> None:
        superadmin = make_credentials(role=UserRole.SUPERADMIN).user
        target = cast(User, UserFactory())
        client = Client()
        client.force_login(superadmin)

        response = client.post(
            "/admin/sessions_app/fairshareweight/add/",
            {"user": str(target.pk), "weight": "2.5", "domain": "", "project": ""},
        )

        assert response.status_code == 302, response.content[:2000]
        assert FairShareWeight.objects.get(user=target).weight == Decimal("2.5")

    def test_monitor_reads_but_does_not_write(self, db: None) -> None:
        monitor = make_credentials(role=UserRole.MONITOR, monitors_all_domains=True).user
        weight = FairShareWeight.objects.create(user=cast(User, UserFactory()), weight=Decimal(2))
        client = Client()
        client.force_login(monitor)

        assert client.get("/admin/sessions_app/fairshareweight/").status_code == 200
        assert client.get("/admin/sessions_app/fairshareweight/add/").status_code == 403
        change = client.post(
            f"/admin/sessions_app/fairshareweight/{weight.pk}/change/",
            {"user": str(weight.user_id), "weight": "7", "domain": "", "project": ""},
        )
        assert change.status_code == 403
        weight.refresh_from_db()
        assert weight.weight == 2
