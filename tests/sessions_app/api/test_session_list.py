from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from backendai_site.accounts.auth.verify import keypair_cache_clear
from sessions_app.api.serializers import SessionOutputSerializer
from sessions_app.api.views import SessionListView
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials, signed_headers
from tests.helpers.sessions import enqueue

pytestmark = pytest.mark.django_db


def list_sessions(creds: Credentials, query: str = "") -> tuple[Any, int]:
    path = "/session" + (f"?{query}" if query else "")
    request = RequestFactory().get(
        path,
        **signed_headers(
            access_key=creds.access_key, secret_key=creds.secret_key, method="GET", rel_url=path
        ),
    )
    # The keypair row is cached for about a second: empty the cache so every measured call
    # reads it, however long the calls in between took.
    keypair_cache_clear()
    with CaptureQueriesContext(connection) as queries:
        response = SessionListView.as_view()(request)
    return response, len(queries)


class TestSessionList:
    def test_rows_match_the_detail_shape(self, world: ComputeWorld) -> None:
        session = enqueue(world.user, "listed1")
        list_sessions(world.user)  # first call also records the keypair's use

        response, _ = list_sessions(world.user)

        row = response.data["results"][0]
        detail = dict(SessionOutputSerializer(session).data)
        assert set(row) == set(detail)
        for key in set(row) - {"age", "idleChecks", "creationTime", "terminationTime", "startsAt"}:
            assert row[key] == detail[key], key
        assert response.data["count"] == 1
        assert row["links"]["terminal"] == f"/console/session/{session.pk}/terminal"
        assert row["links"]["apps"] == {"http": f"/console/session/{session.pk}/apps/http"}

    def test_query_count_is_constant(self, world: ComputeWorld) -> None:
        enqueue(world.user, "few00")
        list_sessions(world.user)
        _, few = list_sessions(world.user)
        for i in range(1, 25):
            enqueue(world.user, f"many{i:02d}")

        response, many = list_sessions(world.user)

        assert len(response.data["results"]) == 25
        assert few == many

    def test_the_count_reads_the_sessions_table_alone(self, world: ComputeWorld) -> None:
        enqueue(world.user, "counted1")
        keypair_cache_clear()
        path = "/session"
        request = RequestFactory().get(
            path,
            **signed_headers(
                access_key=world.user.access_key, secret_key=world.user.secret_key,
                method="GET", rel_url=path,
            ),
        )  # fmt: skip

        with CaptureQueriesContext(connection) as queries:
            response = SessionListView.as_view()(request)

        (count,) = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
        assert response.data["count"] == 1
        assert "JOIN" not in count  # the page's joins (domain, project, group) are not needed

    def test_users_see_only_their_sessions_and_admins_all(self, world: ComputeWorld) -> None:
        other = make_member(world.project, "other@example.com")
        enqueue(world.user, "mine1")
        enqueue(other, "theirs1")

        mine, _ = list_sessions(world.user)
        everyone, _ = list_sessions(world.admin)

        assert [r["sessionName"] for r in mine.data["results"]] == ["mine1"]
        assert {r["sessionName"] for r in everyone.data["results"]} == {"mine1", "theirs1"}

    def test_filters(self, world: ComputeWorld) -> None:
        enqueue(world.user, "alpha1")
        enqueue(world.user, "beta1")

        by_name, _ = list_sessions(world.user, "name=beta1")
        by_status, _ = list_sessions(world.user, "status=RUNNING")

        assert [r["sessionName"] for r in by_name.data["results"]] == ["beta1"]
        assert by_status.data["results"] == []
