"""`/fair-share/*`: who reads and writes what, bad input, the factors reported from the ledger,
and constant query counts (docs/compat/fair-share.md)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents_app.models import ResourceGroup
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import ProjectMembership, User
from sessions_app.models import FairShareWeight, Session
from tests.factories.accounts import UserFactory
from tests.factories.sessions import KeyPairFactory, agent_with_capacity
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials, make_credentials
from tests.helpers.fair_share import ledger_hours
from tests.helpers.scheduler import make_group, pending

pytestmark = pytest.mark.django_db


@dataclass
class Tenants:
    group: ResourceGroup
    other_group: ResourceGroup
    heavy: Session  # 8 cpu-hours in `group`
    light: Session  # 1 cpu-hour in `group`, same project as heavy
    stranger: Session  # another domain, 2 cpu-hours in `group`
    superadmin: Credentials
    domain_admin: Credentials  # of heavy's domain
    plain: Credentials  # of heavy's domain


def _neighbour(session: Session) -> dict[str, Any]:
    user = cast(User, UserFactory(domain=session.domain))
    ProjectMembership.objects.create(project=session.project, user=user)
    return {
        "user": user, "access_key": KeyPairFactory(user=user), "domain": session.domain,
        "project": session.project,
    }  # fmt: skip


@pytest.fixture
def tenants(db: None) -> Tenants:
    group, other_group = make_group("fair-share"), make_group("fifo")
    agent_with_capacity(group, cpu=4)
    now = timezone.now()
    heavy = pending(group)
    ProjectMembership.objects.create(project=heavy.project, user=heavy.user)
    light = pending(group, **_neighbour(heavy))
    stranger = pending(group)
    for owner, hours in ((heavy, 8), (light, 1), (stranger, 2)):
        ledger_hours(owner, group, hours=hours, ended=now)
    ledger_hours(light, other_group, hours=30, ended=now)  # another group's usage
    return Tenants(
        group=group, other_group=other_group, heavy=heavy, light=light, stranger=stranger,
        superadmin=make_credentials(role=UserRole.SUPERADMIN),
        domain_admin=make_credentials(role=UserRole.ADMIN, domain=heavy.domain),
        plain=make_credentials(domain=heavy.domain),
    )  # fmt: skip


def _call(creds: Credentials, method: str, url: str, body: Any = None) -> Any:
    return api_call(Client(), creds, method, url, body)


def _items(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content[:2000]
    return list(response.json()["items"])


def _factor(item: dict[str, Any]) -> Decimal:
    return Decimal(item["calculation_snapshot"]["fair_share_factor"])


class TestReadScope:
    def test_a_superadmin_reads_every_domain_a_domain_admin_its_own(self, tenants: Tenants) -> None:
        body = {"filter": {"resource_group": {"equals": tenants.group.name}}}

        everyone = _items(_call(tenants.superadmin, "POST", "/fair-share/domains/search", body))
        own = _items(_call(tenants.domain_admin, "POST", "/fair-share/domains/search", body))

        assert {d["domain_name"] for d in everyone} == {
            tenants.heavy.domain.name, tenants.stranger.domain.name,
        }  # fmt: skip
        assert [d["domain_name"] for d in own] == [tenants.heavy.domain.name]

    def test_a_domain_admin_is_refused_another_domain(self, tenants: Tenants) -> None:
        g, other = tenants.group.name, tenants.stranger.domain.name

        got = _call(tenants.domain_admin, "GET", f"/fair-share/domains/{g}/{other}")
        rg_list = _call(
            tenants.domain_admin, "POST", f"/fair-share/rg/{g}/domains/{other}/projects/search", {}
        )

        assert got.status_code == rg_list.status_code == 403
        assert problem_type(got) == "forbidden"

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/fair-share/users/search"),
            ("GET", "/fair-share/domains/{g}/{d}"),
            ("POST", "/fair-share/rg/{g}/domains/search"),
            ("GET", "/fair-share/resource-groups/specs"),
            ("PUT", "/fair-share/domains/{g}/{d}/weight"),
        ],
    )
    def test_a_plain_user_is_refused(self, tenants: Tenants, method: str, path: str) -> None:
        url = path.format(g=tenants.group.name, d=tenants.heavy.domain.name)

        response = _call(tenants.plain, method, url, {} if method != "GET" else None)

        assert response.status_code == 403
        assert problem_type(response) == "forbidden"


class TestFactors:
    def test_more_usage_a_lower_factor_and_a_weight_lifts_it(self, tenants: Tenants) -> None:
        g, p = tenants.group.name, tenants.heavy.project_id
        url = f"/fair-share/rg/{g}/domains/{tenants.heavy.domain.name}/projects/{p}/users/search"

        before = _items(_call(tenants.superadmin, "POST", url, {}))
        FairShareWeight.objects.create(
            resource_group=tenants.group, user=tenants.heavy.user, project=tenants.heavy.project,
            weight=100,
        )  # fmt: skip
        after = _items(_call(tenants.superadmin, "POST", url, {}))

        by_user = {i["user_uuid"]: i for i in before}
        heavy, light = by_user[str(tenants.heavy.user_id)], by_user[str(tenants.light.user_id)]
        cpu = {e["resource_type"]: Decimal(e["quantity"]) for e in
               light["calculation_snapshot"]["total_decayed_usage"]["entries"]}  # fmt: skip
        assert Decimal(3500) < cpu["cpu"] <= Decimal(3600)  # one hour, other group left out
        assert _factor(heavy) < _factor(light) < 1
        assert [i["user_uuid"] for i in before] == [str(tenants.light.user_id), heavy["user_uuid"]]
        assert after[0]["user_uuid"] == heavy["user_uuid"]  # highest factor first

    def test_the_every_group_row_shows_until_the_group_has_its_own(self, tenants: Tenants) -> None:
        g, d = tenants.group.name, tenants.heavy.domain.name
        FairShareWeight.objects.create(domain=tenants.heavy.domain, weight=2)

        every = _call(tenants.superadmin, "GET", f"/fair-share/domains/{g}/{d}").json()["item"]
        put = _call(tenants.superadmin, "PUT", f"/fair-share/domains/{g}/{d}/weight", {})
        own = put.json()["item"]

        assert Decimal(every["spec"]["weight"]) == 2
        assert put.status_code == 200 and own["spec"]["weight"] is None  # the group's default

    def test_a_list_takes_the_same_queries_for_more_rows(self, tenants: Tenants) -> None:
        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                _items(_call(tenants.superadmin, "POST", "/fair-share/users/search", {}))
            # leave out the signature check's keypair reads and the audit entry
            return sum(
                1 for q in captured.captured_queries
                if not any(part in q["sql"] for part in ("accounts_keypair", "audit_", "SAVEPOINT"))
            )  # fmt: skip

        few = queries()
        for _ in range(5):
            owner = pending(tenants.group, **_neighbour(tenants.heavy))
            ledger_hours(owner, tenants.group, hours=1, ended=timezone.now())
            FairShareWeight.objects.create(
                resource_group=tenants.group, user=owner.user, project=owner.project, weight=2
            )

        assert queries() == few <= 8


class TestBadInput:
    @pytest.mark.parametrize(
        ("path", "status"),
        [
            ("/fair-share/domains/nowhere/{d}", 404),
            ("/fair-share/domains/{g}/nowhere", 404),
            ("/fair-share/projects/{g}/{random}", 404),
            ("/fair-share/users/{g}/{p}/{random}", 404),
            ("/fair-share/rg/{g}/domains/{other}/projects/{p}", 404),
            ("/fair-share/resource-groups/nowhere/spec", 404),
        ],
    )
    def test_unknown_targets_are_404(self, tenants: Tenants, path: str, status: int) -> None:
        url = path.format(
            g=tenants.group.name, d=tenants.heavy.domain.name, p=tenants.heavy.project_id,
            other=tenants.stranger.domain.name, random=uuid.uuid4(),
        )  # fmt: skip

        response = _call(tenants.superadmin, "GET", url)

        assert response.status_code == status
        assert problem_type(response) == "not-found"

    @pytest.mark.parametrize(
        "body",
        [
            {"filter": {"project_id": {"equals": str(uuid.UUID(int=1))}}},
            {"filter": {"nope": {}}},
            {"order": [{"field": "weight"}]},
            {"limit": 0},
            {"filter": {"domain_name": {"sounds_like": "x"}}},
        ],
    )
    def test_bad_searches_are_400(self, tenants: Tenants, body: dict[str, Any]) -> None:
        response = _call(tenants.superadmin, "POST", "/fair-share/domains/search", body)

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"

    @pytest.mark.parametrize("weight", ["abc", "0", "-1", "10000000", "1.00001"])
    def test_bad_weights_are_400(self, tenants: Tenants, weight: str) -> None:
        url = f"/fair-share/domains/{tenants.group.name}/{tenants.heavy.domain.name}/weight"

        response = _call(tenants.superadmin, "PUT", url, {"weight": weight})

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"
        assert not FairShareWeight.objects.exists()

    def test_a_project_outside_the_named_domain_is_400(self, tenants: Tenants) -> None:
        url = f"/fair-share/projects/{tenants.group.name}/{tenants.heavy.project_id}/weight"

        wrong = _call(tenants.superadmin, "PUT", url, {"domain_name": tenants.stranger.domain.name})
        missing = _call(tenants.superadmin, "PUT", url, {"weight": "2"})

        assert wrong.status_code == missing.status_code == 400
        assert problem_type(wrong) == "invalid-api-params"

    @pytest.mark.parametrize(
        "body",
        [
            {"half_life_days": 0},
            {"lookback_days": "many"},
            {"default_weight": "-2"},
            {"resource_weights": [{"resource_type": "CPU!", "weight": "1"}]},
            {"resource_weights": [{"resource_type": "cpu", "weight": "-1"}]},
            {"colour": "red"},
        ],
    )
    def test_bad_specs_are_400(self, tenants: Tenants, body: dict[str, Any]) -> None:
        url = f"/fair-share/resource-groups/{tenants.group.name}/spec"

        response = _call(tenants.superadmin, "PATCH", url, body)

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"


class TestWrites:
    def test_a_domain_admin_may_not_set_weights_or_specs(self, tenants: Tenants) -> None:
        g, d = tenants.group.name, tenants.heavy.domain.name

        weight = _call(tenants.domain_admin, "PUT", f"/fair-share/domains/{g}/{d}/weight", {})
        spec = _call(tenants.domain_admin, "PATCH", f"/fair-share/resource-groups/{g}/spec", {})

        assert weight.status_code == spec.status_code == 403
        assert not FairShareWeight.objects.exists()

    def test_bulk_upserts_create_and_update_rows_of_the_group(self, tenants: Tenants) -> None:
        heavy, light = tenants.heavy, tenants.light
        FairShareWeight.objects.create(
            resource_group=tenants.group, user=heavy.user, project=heavy.project, weight=7
        )
        entries = [
            {"user_uuid": str(s.user_id), "project_id": str(s.project_id),
             "domain_name": s.domain.name, "weight": "2.5"}
            for s in (heavy, light)
        ]  # fmt: skip
        body = {"resource_group": tenants.group.name, "inputs": entries}

        url = "/fair-share/users/bulk-upsert-weight"
        with CaptureQueriesContext(connection) as captured:
            response = _call(tenants.superadmin, "POST", url, body)

        assert response.status_code == 200 and response.json() == {"upserted_count": 2}
        rows = FairShareWeight.objects.filter(resource_group=tenants.group)
        assert [r.weight for r in rows] == [Decimal("2.5"), Decimal("2.5")]
        assert len(captured) < 20

    def test_bulk_upsert_names_an_unknown_user_404(self, tenants: Tenants) -> None:
        body = {
            "resource_group": tenants.group.name,
            "inputs": [{"user_uuid": str(uuid.uuid4()), "project_id": str(tenants.heavy.project_id),
                        "domain_name": tenants.heavy.domain.name, "weight": None}],
        }  # fmt: skip

        response = _call(tenants.superadmin, "POST", "/fair-share/users/bulk-upsert-weight", body)

        assert response.status_code == 404
        assert not FairShareWeight.objects.exists()


class TestGroupUsageBuckets:
    def test_the_path_pins_the_group_and_domain(self, tenants: Tenants) -> None:
        g, d = tenants.group.name, tenants.heavy.domain.name

        url = f"/fair-share/rg/{g}/usage-buckets/domains/search"
        domains = _items(_call(tenants.superadmin, "POST", url, {}))
        projects = _items(_call(
            tenants.superadmin, "POST",
            f"/fair-share/rg/{g}/domains/{d}/usage-buckets/projects/search", {},
        ))  # fmt: skip
        unknown = _call(
            tenants.superadmin, "POST", "/fair-share/rg/nowhere/usage-buckets/domains/search", {}
        )

        assert {b["resource_group"] for b in domains} == {g}
        assert {b["domain_name"] for b in domains} == {d, tenants.stranger.domain.name}
        assert {b["domain_name"] for b in projects} == {d}
        assert unknown.status_code == 404
