"""The fair-share sequencer reads the weights and spec of the resource group it schedules:
a weight row of one group applies there only, a group's row wins over the every-group row, the
group's default weight and resource weights count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents_app.models import ResourceGroup
from backendai_site.accounts.models import User
from sessions_app.enums import SessionStatus
from sessions_app.models import FairShareWeight, Session
from sessions_app.scheduler.runner import PassReport
from tests.factories.accounts import UserFactory
from tests.factories.sessions import KeyPairFactory, agent_with_capacity
from tests.helpers.fair_share import ledger_hours
from tests.helpers.scheduler import make_group, pending, statuses

pytestmark = pytest.mark.django_db

RunPass = Callable[..., PassReport]
SCHEDULED, PENDING = SessionStatus.SCHEDULED, SessionStatus.PENDING


def _neighbour(session: Session) -> dict[str, Any]:
    user = cast(User, UserFactory(domain=session.domain))
    return {
        "user": user, "access_key": KeyPairFactory(user=user), "domain": session.domain,
        "project": session.project,
    }  # fmt: skip


def _contest(group: ResourceGroup, *, usage_hours: int = 4) -> tuple[Session, Session]:
    """An older session of `plain` and a newer one of `favoured` (a neighbour in the same
    project) compete for one 1-cpu agent of `group`, both with the same ledger usage there."""
    agent_with_capacity(group, cpu=1)
    now = timezone.now()
    plain = pending(group, created=now - timedelta(seconds=60))
    favoured = pending(group, created=now, **_neighbour(plain))
    for owner in (plain, favoured):
        ledger_hours(owner, group, hours=usage_hours, ended=now)
    return plain, favoured


def _same_owners(group: ResourceGroup, plain: Session, favoured: Session) -> tuple[Session, ...]:
    agent_with_capacity(group, cpu=1)
    now = timezone.now()
    out = []
    for owner, created in ((plain, now - timedelta(seconds=60)), (favoured, now)):
        session = pending(
            group, created=created, user=owner.user, access_key=owner.access_key,
            domain=owner.domain, project=owner.project,
        )  # fmt: skip
        ledger_hours(owner, group, hours=4, ended=now)
        out.append(session)
    return tuple(out)


class TestPerGroupWeights:
    def test_a_weight_of_one_group_applies_in_that_group_only(self, run_pass: RunPass) -> None:
        weighted, other = make_group("fair-share"), make_group("fair-share")
        plain, favoured = _contest(weighted)
        plain_other, favoured_other = _same_owners(other, plain, favoured)
        FairShareWeight.objects.create(
            resource_group=weighted, user=favoured.user, project=favoured.project, weight=3
        )

        run_pass(weighted)
        run_pass(other)

        assert statuses(favoured, plain) == [SCHEDULED, PENDING]
        # no weight in the other group: equal usage, the older session first
        assert statuses(plain_other, favoured_other) == [SCHEDULED, PENDING]

    def test_the_groups_own_row_wins_over_the_every_group_row(self, run_pass: RunPass) -> None:
        group = make_group("fair-share")
        plain, favoured = _contest(group)
        FairShareWeight.objects.create(user=favoured.user, weight=5)  # every group
        FairShareWeight.objects.create(resource_group=group, user=plain.user, weight=9)

        run_pass(group)

        assert statuses(plain, favoured) == [SCHEDULED, PENDING]

    def test_a_row_without_weight_and_no_row_weigh_the_groups_default(
        self, run_pass: RunPass
    ) -> None:
        group = make_group("fair-share", fair_share_default_weight="4")
        plain, favoured = _contest(group)
        FairShareWeight.objects.create(resource_group=group, user=plain.user, weight=1)
        FairShareWeight.objects.create(resource_group=group, user=favoured.user, weight=None)

        run_pass(group)

        assert statuses(favoured, plain) == [SCHEDULED, PENDING]
        plain.refresh_from_db()
        assert plain.status_data["scheduler"]["fair_share"]["weight"] == 1

    def test_a_zero_resource_weight_takes_the_slots_usage_out(self, run_pass: RunPass) -> None:
        group = make_group("fair-share", fair_share_resource_weights={"cpu": "0"})
        agent_with_capacity(group, cpu=1)
        now = timezone.now()
        heavy = pending(group, created=now - timedelta(seconds=60))
        light = pending(group, created=now, **_neighbour(heavy))
        ledger_hours(heavy, group, hours=24, ended=now)

        run_pass(group)

        # cpu counts nothing here: no usage difference, the older session first
        assert statuses(heavy, light) == [SCHEDULED, PENDING]


class TestWeightRows:
    def test_one_row_per_target_and_group(self, db: None) -> None:
        group = make_group("fair-share")
        user = cast(User, UserFactory())
        FairShareWeight.objects.create(user=user, weight=Decimal(2))
        FairShareWeight.objects.create(user=user, resource_group=group, weight=Decimal(3))
        for fields in (
            {"user": user, "resource_group": group, "weight": Decimal(4)},
            {"user": user, "weight": None},
            {"user": user, "domain": user.domain, "weight": Decimal(1)},
        ):
            with pytest.raises(IntegrityError), transaction.atomic():
                FairShareWeight.objects.create(**fields)
