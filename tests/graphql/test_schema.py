from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backendai_site.graphql.schema import schema
from sessions_app.models import SessionDependency
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld

pytestmark = pytest.mark.django_db

LIST = """query($limit:Int!, $offset:Int!) { compute_session_list(limit:$limit, offset:$offset) {
  items { name id status dependencies { name id } } total_count } }"""


def enqueue(world: ComputeWorld, name: str) -> None:
    session_enqueue(
        requester=world.user.keypair,
        request=SessionCreateRequest.model_validate(
            {"image": "python", "name": name, "enqueueOnly": True}
        ),
    )


def run_list(world: ComputeWorld) -> tuple[dict[str, Any], int]:
    with CaptureQueriesContext(connection) as queries:
        result = schema.execute(
            LIST,
            variables={"limit": 50, "offset": 0},
            context_value={"keypair": world.user.keypair},
        )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data["compute_session_list"], len(queries)


class TestComputeSessionList:
    def test_query_count_does_not_grow_with_the_page(self, world: ComputeWorld) -> None:
        enqueue(world, "gql-a0")
        enqueue(world, "gql-a1")
        first, second = list(world.user.keypair.sessions.order_by("created_at")[:2])
        SessionDependency.objects.create(session=second, depends_on=first)
        _, few = run_list(world)
        for i in range(2, 12):
            enqueue(world, f"gql-a{i}")

        page, many = run_list(world)

        assert page["total_count"] == 12
        deps = {item["name"]: item["dependencies"] for item in page["items"]}
        assert deps[second.name] == [{"name": first.name, "id": str(first.pk)}]
        assert few == many
