"""The scheduler dry run: the next pass's decisions for a group, with nothing written, shown to
staff who may read the group, and other tenants' sessions only as counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from agents_app.models import AgentResource, ResourceGroup
from backendai_site.accounts.enums import UserRole
from sessions_app.enums import SessionStatus
from sessions_app.models import Session, SessionStatusHistory
from sessions_app.scheduler.dry_run import scheduler_dry_run
from tests.factories.accounts import DomainFactory
from tests.factories.sessions import agent_with_capacity
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import make_credentials
from tests.helpers.scheduler import pending, statuses, verdict

pytestmark = pytest.mark.django_db


def written_state() -> tuple[Any, ...]:
    return (
        sorted(Session.objects.values_list("pk", "status", "status_data")),
        sorted(AgentResource.objects.values_list("agent_id", "slot_name", "used")),
        SessionStatusHistory.objects.count(),
    )


class TestDecisions:
    def test_placements_and_verdicts_without_writing(
        self, group: ResourceGroup, run_pass: Any
    ) -> None:
        agent = agent_with_capacity(group, cpu=2)
        fits = pending(group, cpu="1")
        second = pending(group, cpu="1")
        too_big = pending(group, cpu="8")
        admin = make_credentials(UserRole.SUPERADMIN).user
        before = written_state()

        answer = scheduler_dry_run(actor=admin, resource_group=group.name)

        assert written_state() == before
        assert answer["pending_considered"] == 3
        placed = {p["session_id"]: p for p in answer["placements"]}
        assert set(placed) == {str(fits.pk), str(second.pk)}
        assert placed[str(fits.pk)]["kernels"][0]["agent_id"] == agent.id
        assert placed[str(fits.pk)]["kernels"][0]["slots"]["cpu"] == "1"
        [waiting] = answer["waiting"]
        assert waiting["session_id"] == str(too_big.pk)
        assert waiting["session_name"] == too_big.name
        assert waiting["verdict"] == "insufficient-capacity"
        assert "cpu 8 requested" in waiting["msg"]
        assert (waiting["queue_position"], waiting["queue_length"]) == (1, 1)
        assert answer["not_shown"] == {"placed": 0, "waiting": 0, "cancelled": 0}

        # the real pass then does what the dry run said
        run_pass(group)
        assert statuses(fits, second, too_big) == [
            SessionStatus.SCHEDULED, SessionStatus.SCHEDULED, SessionStatus.PENDING,
        ]  # fmt: skip
        assert verdict(too_big)["verdict"] == waiting["verdict"]


class TestScope:
    def test_domain_admin_sees_its_domain_and_counts_of_the_rest(
        self, group: ResourceGroup
    ) -> None:
        agent_with_capacity(group, cpu=1)
        mine_admin = make_credentials(UserRole.ADMIN).user
        group.domains.add(mine_admin.domain)
        other_domain = DomainFactory.create()
        group.domains.add(other_domain)
        foreign = pending(group, cpu="1", domain=other_domain)
        own = pending(group, cpu="4", domain=mine_admin.domain)

        answer = scheduler_dry_run(actor=mine_admin, resource_group=group.name)

        shown = {p["session_id"] for p in answer["placements"]} | {
            w["session_id"] for w in answer["waiting"]
        }
        assert shown == {str(own.pk)}
        assert str(foreign.pk) not in str(answer) and foreign.name not in str(answer)
        assert answer["not_shown"] == {"placed": 1, "waiting": 0, "cancelled": 0}

    def test_api_refuses_users_unknown_groups_and_bad_queries(self, group: ResourceGroup) -> None:
        client = Client()
        user = make_credentials()
        admin = make_credentials(UserRole.SUPERADMIN)
        url = f"/scheduler/dry-run?resource_group={group.name}"

        assert api_call(client, admin, "GET", url).status_code == 200
        refused = api_call(client, user, "GET", url)
        assert refused.status_code == 403
        unknown = api_call(client, admin, "GET", "/scheduler/dry-run?resource_group=nope")
        assert (unknown.status_code, problem_type(unknown)) == (404, "resource-group-not-found")
        missing = api_call(client, admin, "GET", "/scheduler/dry-run")
        assert (missing.status_code, problem_type(missing)) == (400, "invalid-api-params")
        extra = api_call(client, admin, "GET", f"{url}&limit=3")
        assert extra.status_code == 400
