from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from django.test import Client

from backendai_site.accounts.enums import UserRole
from sessions_app.models import Kernel, UsageInterval
from sessions_app.services.usage import usage_intervals_record
from tests.factories.accounts import DomainFactory
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials, make_credentials
from tests.helpers.usage import kernel_end

pytestmark = pytest.mark.django_db
GIB = 1024**3
T0 = datetime(2026, 11, 3, 9, 40, 0, 250_000, tzinfo=UTC)
T1 = T0 + timedelta(hours=1, minutes=30)  # 5400 s


@pytest.fixture
def usage_world(running_kernel: Callable[..., Kernel]) -> dict[str, Any]:
    """Two users of one domain (one ran 2 cpu + 1 GPU for 5400 s, one 1 cpu for 600 s) and a user
    of another domain (1 cpu for 60 s), all in November 2026; one kernel in December."""
    heavy = make_credentials()
    domain = heavy.user.domain
    light = make_credentials(domain=domain)
    stranger = make_credentials(domain=DomainFactory.create())
    kernels = {
        "heavy": running_kernel(
            started_at=T0, slots={"cpu": "2", "mem": str(GIB), "cuda.device": "1"},
            user=heavy.user, access_key=heavy.keypair, domain=domain,
        ),
        "light": running_kernel(
            started_at=T0, slots={"cpu": "1", "mem": str(GIB)},
            user=light.user, access_key=light.keypair, domain=domain,
        ),
        "stranger": running_kernel(
            started_at=T0, slots={"cpu": "1"}, user=stranger.user,
            access_key=stranger.keypair, domain=stranger.user.domain,
        ),
        "december": running_kernel(
            started_at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC), slots={"cpu": "8"},
            user=heavy.user, access_key=heavy.keypair, domain=domain,
        ),
    }  # fmt: skip
    kernel_end(kernels["heavy"], T1)
    kernel_end(kernels["light"], T0 + timedelta(seconds=600))
    kernel_end(kernels["stranger"], T0 + timedelta(seconds=60))
    kernel_end(kernels["december"], datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    usage_intervals_record(now=datetime(2026, 12, 2, tzinfo=UTC))
    superadmin = make_credentials(role=UserRole.SUPERADMIN)
    domain_admin = make_credentials(role=UserRole.ADMIN, domain=domain)
    return {
        "heavy": heavy, "light": light, "stranger": stranger, "kernels": kernels,
        "superadmin": superadmin, "domain_admin": domain_admin,
    }  # fmt: skip


def _body(response: Any) -> str:
    """The streamed body, read the way an ASGI server reads it (an async iterator)."""

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)().decode()


class TestUsagePerMonth:
    def test_a_superadmin_sees_each_project_with_its_kernels_to_the_second(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        heavy_kernel = usage_world["kernels"]["heavy"]
        project = heavy_kernel.session.project

        response = signed_get(
            usage_world["superadmin"], f"/resource/usage/month?month=202611&group_ids={project.pk}"
        )

        assert response.status_code == 200
        [group] = response.json()
        assert (group["g_id"], group["g_name"]) == (str(project.pk), project.name)
        [info] = group["c_infos"]
        assert info["id"] == str(heavy_kernel.pk)
        assert info["used_seconds"] == 5400
        assert info["slot_seconds"] == {"cpu": 10800, "cuda.device": 5400, "mem": GIB * 5400}
        assert info["slot_hours"]["cuda.device"] == 1.5
        assert info["cpu_allocated"] == 2.0 and info["gpu_allocated"] == 1.0
        assert info["device_type"] == ["cuda"]
        assert info["cpu_used"] is None  # not measured by the ledger, never made up
        assert group["used_seconds"] == 5400

    def test_the_month_bounds_the_rows(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        response = signed_get(usage_world["superadmin"], "/resource/usage/month?month=202612")

        [group] = response.json()
        [info] = group["c_infos"]
        assert info["id"] == str(usage_world["kernels"]["december"].pk)
        assert info["used_seconds"] == 3600

    @pytest.mark.parametrize(
        "query",
        [
            "month=2026-11",
            "month=202613",
            "month=",
            "month=999912",
            "month=202611&group_ids=nope",
            "group_ids=",
        ],
    )
    def test_a_malformed_query_is_a_400(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any], query: str
    ) -> None:
        response = signed_get(usage_world["superadmin"], f"/resource/usage/month?{query}")

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"


class TestUsageScope:
    def _totals(self, signed_get: Callable[..., Any], creds: Credentials) -> dict[str, str]:
        response = signed_get(creds, "/resource/usage/totals?month=202611&by=user")
        assert response.status_code == 200
        return {item["user_email"]: item["seconds"] for item in response.json()["items"]}

    def test_a_user_sees_only_their_own_usage(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        light = usage_world["light"]

        assert self._totals(signed_get, light) == {light.user.email: "600.000000"}

    def test_a_domain_admin_sees_their_domain(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        seen = self._totals(signed_get, usage_world["domain_admin"])

        assert seen == {
            usage_world["heavy"].user.email: "5400.000000",
            usage_world["light"].user.email: "600.000000",
        }

    def test_a_superadmin_sees_every_domain(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        seen = self._totals(signed_get, usage_world["superadmin"])

        assert seen[usage_world["stranger"].user.email] == "60.000000"
        assert len(seen) == 3

    def test_totals_per_project_give_cpu_and_gpu_hours(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        project = usage_world["kernels"]["heavy"].session.project

        response = signed_get(
            usage_world["superadmin"],
            f"/resource/usage/totals?start_date=20261101&end_date=20261130&by=project"
            f"&project_id={project.pk}",
        )

        [item] = response.json()["items"]
        assert item["project_id"] == str(project.pk)
        assert item["slot_hours"]["cpu"] == "3.000000"
        assert item["slot_hours"]["cuda.device"] == "1.500000"

    @pytest.mark.parametrize(
        "query",
        [
            "month=202611&by=planet",
            "month=202611&start_date=20261101&end_date=20261102",
            "start_date=20261101",
            "start_date=20260101&end_date=20261231",
            "start_date=20261105&end_date=20261101",
            "start_date=99991230&end_date=99991231",
            "month=202611&user_id=not-a-uuid",
            "month=202611&colour=blue",
        ],
    )
    def test_a_bad_scope_is_a_400(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any], query: str
    ) -> None:
        response = signed_get(usage_world["superadmin"], f"/resource/usage/totals?{query}")

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"


class TestUsagePerPeriod:
    def test_each_project_with_its_users(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        project = usage_world["kernels"]["light"].session.project

        response = signed_get(
            usage_world["superadmin"],
            f"/resource/usage/period?start_date=20261103&end_date=20261103&group_id={project.pk}",
        )

        assert response.status_code == 200
        [item] = response.json()
        assert (item["project_id"], item["project_name"]) == (str(project.pk), project.name)
        assert item["total_usage"]["used_seconds"] == 600
        assert [u["user_email"] for u in item["users"]] == [usage_world["light"].user.email]

    def test_a_day_outside_the_period_has_nothing(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        response = signed_get(
            usage_world["superadmin"],
            "/resource/usage/period?start_date=20261104&end_date=20261110",
        )

        assert response.json() == []


class TestUserMonthStats:
    def test_bins_cover_the_users_own_kernels(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any], settings: Any
    ) -> None:
        from django.utils import timezone

        now = timezone.now()
        kernel = usage_world["kernels"]["light"]
        UsageInterval.objects.create(
            kind="interval", kernel_id=kernel.pk, session_id=kernel.session_id,
            session_name="s", user_id=usage_world["light"].user.pk,
            user_email=usage_world["light"].user.email, access_key="AK",
            project_id=kernel.session.project_id, project_name="p", domain_name="d",
            resource_group="g",
            started_at=now - timedelta(minutes=40), ended_at=now - timedelta(minutes=10),
            seconds=1800, slots={"cpu": "3", "mem": "100"}, slot_seconds={"cpu": "5400"},
        )  # fmt: skip

        response = signed_get(usage_world["light"], "/resource/stats/user/month")

        assert response.status_code == 200
        bins = response.json()
        assert len(bins) >= 30 * 96
        busy = [b for b in bins if b["num_sessions"]["value"]]
        assert 2 <= len(busy) <= 3
        assert all(b["cpu_allocated"]["value"] == 3.0 for b in busy)


class TestUsageExport:
    def test_the_csv_streams_every_row_of_the_scope_with_a_column_per_slot(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        heavy = usage_world["heavy"]

        response = signed_get(
            usage_world["superadmin"],
            f"/resource/usage/export.csv?month=202611&user_id={heavy.user.pk}",
        )

        assert response.status_code == 200
        assert isinstance(response, StreamingHttpResponse)
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(_body(response))))
        assert len(rows) == 3  # 09:40-10:00, 10:00-11:00, 11:00-11:10
        assert {r["user_email"] for r in rows} == {heavy.user.email}
        assert sum(float(r["seconds"]) for r in rows) == 5400
        assert sum(float(r["cuda.device_seconds"]) for r in rows) == 5400
        assert rows[0]["started_at"] == T0.isoformat()

    def test_a_user_cannot_export_anothers_rows(
        self, usage_world: dict[str, Any], signed_get: Callable[..., Any]
    ) -> None:
        heavy = usage_world["heavy"]

        response = signed_get(
            usage_world["light"], f"/resource/usage/export.csv?month=202611&user_id={heavy.user.pk}"
        )

        lines = _body(response).splitlines()
        assert len(lines) == 1  # the header only


class TestUsageAdmin:
    def test_the_changelist_shows_totals_per_project_and_user_and_is_read_only(
        self, usage_world: dict[str, Any]
    ) -> None:
        client = Client()
        client.force_login(usage_world["superadmin"].user)

        page = client.get(
            "/admin/sessions_app/usageinterval/?started_at__month=11&started_at__year=2026"
        )

        assert page.status_code == 200
        totals = page.context["usage_totals"]
        by_user = {t["user"]: t for t in totals}
        heavy = by_user[usage_world["heavy"].user.email]
        assert heavy["hours"] == 1.5 and heavy["slot_hours"]["cuda.device"] == 1.5
        assert page.context["usage_grand_total"]["kernels"] == 3
        assert b"usage-totals" in page.content
        rows_shown = page.content.decode()
        assert ">1 hour<" in rows_shown  # durations and slot-hours in words and units
        assert ">2 core-hours, 1 GiB-hours, 1 GPU-hours<" in rows_shown
        row = UsageInterval.objects.first()
        assert row is not None
        assert client.get(f"/admin/sessions_app/usageinterval/{row.pk}/delete/").status_code == 403
        assert client.get("/admin/sessions_app/usageinterval/add/").status_code == 403

    def test_the_export_follows_the_filters(self, usage_world: dict[str, Any]) -> None:
        client = Client()
        client.force_login(usage_world["superadmin"].user)
        email = usage_world["light"].user.email

        response = client.get(f"/admin/sessions_app/usageinterval/export.csv?user_email={email}")

        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(_body(response))))
        assert [r["user_email"] for r in rows] == [email]


class TestUsageBucketSearch:
    @pytest.mark.parametrize(
        ("level", "body"),
        [
            ("domains", {"filter": {"project_id": {"equals": str(uuid.uuid4())}}}),
            ("projects", {"filter": {"user_uuid": {"equals": str(uuid.uuid4())}}}),
            ("users", {"filter": {"colour": {"equals": "blue"}}}),
            ("users", {"limit": 0}),
            ("users", {"order": [{"field": "cost", "direction": "desc"}]}),
        ],
    )
    def test_a_filter_the_level_lacks_or_a_bad_field_is_a_400(
        self, usage_world: dict[str, Any], level: str, body: dict[str, Any]
    ) -> None:
        response = api_call(
            Client(), usage_world["superadmin"], "POST",
            f"/fair-share/usage-buckets/{level}/search", body,
        )  # fmt: skip

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"

    def test_a_day_filter_bounds_the_buckets(self, usage_world: dict[str, Any]) -> None:
        response = api_call(
            Client(), usage_world["superadmin"], "POST", "/fair-share/usage-buckets/domains/search",
            {"filter": {"period_start": {"after": "2026-12-01", "before": "2026-12-31"}}},
        )  # fmt: skip

        assert response.status_code == 200
        [bucket] = response.json()["items"]
        assert bucket["metadata"]["period_start"] == "2026-12-01"
        assert response.json()["pagination"]["total"] == 1
