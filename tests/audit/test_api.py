"""`GET /audit-logs`: who may read which entries, the filters, and bad filter values."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backendai_site.audit.enums import AuditOutcome
from backendai_site.audit.models import AuditLogEntry
from tests.factories.world import ComputeWorld
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials

pytestmark = pytest.mark.django_db


def entry_of(creds: Credentials, **fields: Any) -> AuditLogEntry:
    user = creds.user
    values: dict[str, Any] = {
        "request_id": "r",
        "user_id": user.pk,
        "user_email": user.email,
        "role": user.role,
        "domain_name": user.domain.name,
        "access_key": creds.access_key,
        "action": "POST /session",
        "outcome": AuditOutcome.SUCCESS,
        "status_code": 201,
        "method": "POST",
        "path": "/session",
    }
    values.update(fields)
    return AuditLogEntry.objects.create(**values)


def listed(client: Client, creds: Credentials, query: str = "") -> list[int]:
    response = api_call(client, creds, "GET", "/audit-logs" + query)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def entries(world: ComputeWorld, far_user: Credentials) -> dict[str, AuditLogEntry]:
    return {
        "user": entry_of(world.user, target_type="session", target_id="s1"),
        "admin": entry_of(
            world.admin,
            action="PUT /manager/status",
            outcome=AuditOutcome.DENIED,
            status_code=403,
            at=timezone.now() - timedelta(days=2),
        ),
        "far": entry_of(far_user, outcome=AuditOutcome.FAILURE, status_code=400),
    }


class TestWhoReads:
    def test_a_superadmin_reads_every_entry_newest_first(
        self, client: Client, world: ComputeWorld, entries: dict[str, AuditLogEntry]
    ) -> None:
        ids = listed(client, world.admin)

        assert ids == [entries["far"].pk, entries["user"].pk, entries["admin"].pk]

    def test_a_domain_admin_reads_its_domain_only(
        self,
        client: Client,
        domain_admin: Credentials,
        entries: dict[str, AuditLogEntry],
    ) -> None:
        ids = listed(client, domain_admin)

        assert sorted(ids) == sorted([entries["user"].pk, entries["admin"].pk])

    @pytest.mark.parametrize("who", ["user", "monitor"])
    def test_users_and_monitors_are_refused(
        self,
        client: Client,
        world: ComputeWorld,
        monitor: Credentials,
        who: str,
        entries: dict[str, AuditLogEntry],
    ) -> None:
        creds = world.user if who == "user" else monitor

        response = api_call(client, creds, "GET", "/audit-logs")

        assert response.status_code == 403
        assert problem_type(response) == "forbidden"

    def test_the_answer_is_paginated(
        self, client: Client, world: ComputeWorld, entries: dict[str, AuditLogEntry]
    ) -> None:
        response = api_call(client, world.admin, "GET", "/audit-logs?limit=1&offset=1")

        body = response.json()
        assert body["count"] == 3
        assert [row["id"] for row in body["results"]] == [entries["user"].pk]
        assert body["results"][0]["target_id"] == "s1"


class TestFilters:
    def test_each_filter_narrows_the_list(
        self,
        client: Client,
        world: ComputeWorld,
        far_user: Credentials,
        entries: dict[str, AuditLogEntry],
    ) -> None:
        since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")

        assert listed(client, world.admin, f"?user={world.user.user.email}") == [entries["user"].pk]
        assert listed(client, world.admin, f"?user={far_user.user.pk}") == [entries["far"].pk]
        assert listed(client, world.admin, f"?access_key={world.admin.access_key}") == [
            entries["admin"].pk
        ]
        assert listed(client, world.admin, "?action=PUT%20/manager/status") == [entries["admin"].pk]
        assert listed(client, world.admin, "?target_type=session&target_id=s1") == [
            entries["user"].pk
        ]
        assert listed(client, world.admin, "?outcome=failure") == [entries["far"].pk]
        assert listed(client, world.admin, f"?until={since}") == [entries["admin"].pk]
        assert sorted(listed(client, world.admin, f"?since={since}")) == sorted(
            [entries["user"].pk, entries["far"].pk]
        )

    @pytest.mark.parametrize(
        "query", ["?since=yesterday", "?until=2026-13-40T00:00:00Z", "?outcome=maybe"]
    )
    def test_a_bad_filter_value_is_a_400(
        self, client: Client, world: ComputeWorld, query: str
    ) -> None:
        response = api_call(client, world.admin, "GET", "/audit-logs" + query)

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"

    def test_reading_is_not_itself_recorded(self, client: Client, world: ComputeWorld) -> None:
        listed(client, world.admin)

        assert not AuditLogEntry.objects.exists()


class TestQueryCountAndSchema:
    def test_the_query_count_does_not_grow_with_the_page(
        self,
        client: Client,
        world: ComputeWorld,
        entries: dict[str, AuditLogEntry],
    ) -> None:
        def queries_for_a_page() -> int:
            with CaptureQueriesContext(connection) as captured:
                listed(client, world.admin)
            return len(captured.captured_queries)

        queries_for_a_page()  # the first signed call also loads what later calls reuse
        few = queries_for_a_page()
        for _ in range(20):
            entry_of(world.user)

        assert queries_for_a_page() == few

    def test_the_openapi_schema_documents_the_filters(self, client: Client) -> None:
        schema = client.get("/api/schema?format=json").json()

        operation = schema["paths"]["/audit-logs"]["get"]
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert {"user", "access_key", "action", "target_type", "target_id", "outcome"} <= names
        assert {"since", "until", "limit", "offset"} <= names
