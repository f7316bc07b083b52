"""`POST /admin/gql`: a mutation is recorded with its field names, a query is not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from backendai_site.audit.models import AuditLogEntry
from tests.factories.world import ComputeWorld
from tests.helpers.credentials import Credentials, signed_headers

pytestmark = pytest.mark.django_db

CREATE_DOMAIN = """mutation($name: String!, $input: DomainInput!) {
  create_domain(name: $name, props: $input) { ok msg } }"""


def gql_post(client: Client, creds: Credentials, query: str, **variables: Any) -> Any:
    headers = signed_headers(
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        method="POST",
        rel_url="/admin/gql",
        content_type="application/json",
    )
    body = json.dumps({"query": query, "variables": variables})
    return client.post("/admin/gql", body, content_type="application/json", **headers)


class TestGraphQLAudit:
    def test_a_mutation_is_recorded_with_its_fields_and_target(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = gql_post(client, world.admin, CREATE_DOMAIN, name="lab", input={})

        assert response.status_code == 200
        assert response.json()["data"]["create_domain"]["ok"] is True
        entry = AuditLogEntry.objects.get()
        assert entry.action == "gql create_domain"
        assert (entry.target_type, entry.target_id) == ("domain", "lab")
        assert (entry.outcome, entry.status_code) == ("success", 200)
        assert (entry.user_email, entry.access_key) == (
            world.admin.user.email,
            world.admin.access_key,
        )
        assert entry.request_id == response["X-Request-ID"]

    def test_a_refused_mutation_is_a_failure_though_the_answer_is_200(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = gql_post(client, world.user, CREATE_DOMAIN, name="lab", input={})

        assert response.status_code == 200
        assert response.json()["errors"]
        entry = AuditLogEntry.objects.get()
        assert (entry.action, entry.outcome) == ("gql create_domain", "failure")

    def test_a_query_is_not_recorded(self, client: Client, world: ComputeWorld) -> None:
        response = gql_post(client, world.admin, "query { domains { name } }")

        assert response.status_code == 200
        assert "errors" not in response.json()
        assert not AuditLogEntry.objects.exists()
