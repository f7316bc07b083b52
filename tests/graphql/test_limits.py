"""GraphQL depth, alias and cost limits: refused before any resolver runs, with clear errors."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backendai_site.graphql.limits import (
    MAX_ALIASES,
    MAX_COST,
    MAX_DEPTH,
    MAX_SOURCE_LENGTH,
    MAX_TOKENS,
)
from tests.helpers.credentials import Credentials, make_credentials, signed_headers

pytestmark = pytest.mark.django_db

LIST_FIELD = "compute_session_list(limit: 1, offset: 0) { items { id name status } }"


@pytest.fixture
def caller(db: None) -> Credentials:
    return make_credentials()


def gql(creds: Credentials, query: str) -> dict[str, Any]:
    headers = signed_headers(
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        method="POST",
        rel_url="/admin/gql",
        content_type="application/json",
    )
    response = Client().post(
        "/admin/gql", json.dumps({"query": query}), content_type="application/json", **headers
    )
    assert response.status_code == 200, response.content[:500]
    return dict(response.json())


def codes(payload: dict[str, Any]) -> set[str]:
    return {str((e.get("extensions") or {}).get("code")) for e in payload.get("errors") or []}


class TestGraphQLLimits:
    def test_five_hundred_aliases_answer_fast_with_an_error(self, caller: Credentials) -> None:
        query = "{ " + " ".join(f"a{i}: {LIST_FIELD}" for i in range(500)) + " }"

        started = time.monotonic()
        with CaptureQueriesContext(connection) as queries:
            payload = gql(caller, query)
        elapsed = time.monotonic() - started

        assert payload["data"] is None
        assert "ALIAS_LIMIT_EXCEEDED" in codes(payload)
        assert any("500 aliases" in e["message"] for e in payload["errors"])
        assert not [q for q in queries.captured_queries if "sessions_app_session" in q["sql"]]
        assert elapsed < 2.0

    def test_aliases_in_a_fragment_count_each_time_it_is_spread(self, caller: Credentials) -> None:
        half = MAX_ALIASES // 2 + 1
        fragment = " ".join(f"k{i}: access_key" for i in range(half))
        query = (
            f"fragment F on KeyPair {{ {fragment} }} "
            "{ keypair { ...F } again: keypair { ...F } }"
        )

        payload = gql(caller, query)

        assert "ALIAS_LIMIT_EXCEEDED" in codes(payload)

    def test_cost_is_bounded_below_the_alias_limit(self, caller: Credentials) -> None:
        fields = " ".join(
            ["id", "name", "status", "tag", "type", "image", "priority", "created_at"]
        )
        count = MAX_ALIASES - 1
        query = (
            "{ "
            + " ".join(
                f"s{i}: compute_session_list(limit: 100, offset: 0) {{ items {{ {fields} }} }}"
                for i in range(count)
            )
            + " }"
        )

        payload = gql(caller, query)

        assert payload["data"] is None
        assert codes(payload) == {"QUERY_COST_EXCEEDED"}
        assert any(f"at most {MAX_COST}" in e["message"] for e in payload["errors"])

    def test_depth_is_bounded(self, caller: Credentials) -> None:
        inner = "id"
        for level in range(MAX_DEPTH + 2):
            inner = f"f{level} {{ {inner} }}"
        query = f"{{ compute_session_list(limit: 1, offset: 0) {{ {inner} }} }}"

        payload = gql(caller, query)

        assert payload["data"] is None
        assert any("maximum operation depth" in e["message"] for e in payload["errors"])

    def test_huge_documents_are_refused_by_the_parser(self, caller: Credentials) -> None:
        many_tokens = "{ " + "keypair { access_key } " * (MAX_TOKENS // 4) + "}"
        long_source = "{ keypair { access_key } }" + " " * MAX_SOURCE_LENGTH

        answers = [gql(caller, many_tokens), gql(caller, long_source)]

        for payload in answers:
            assert payload["data"] is None
            assert any("Parsing aborted" in e["message"] for e in payload["errors"])

    def test_an_ordinary_query_still_answers(self, caller: Credentials) -> None:
        query = (
            "{ keypair { access_key is_active } "
            "compute_session_list(limit: 20, offset: 0) { total_count items { id name status "
            "containers { id status agent } dependencies { id name } } } }"
        )

        payload = gql(caller, query)

        assert "errors" not in payload, payload
        assert payload["data"]["keypair"]["access_key"] == caller.access_key
        assert payload["data"]["compute_session_list"]["total_count"] == 0
