"""The folder GraphQL documents of the 26.9.6 client (COMPAT.md 5, V1): scoped, counts pinned."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backendai_site.accounts.enums import UserRole
from backendai_site.graphql.schema import schema
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db

V1 = """query($limit:Int!, $offset:Int!, $group_id: UUID, $filter: String, $order: String) {
  vfolder_list(
      limit:$limit, offset:$offset, group_id:$group_id, filter:$filter, order:$order) {
    items { host name status created_at creator group permission ownership_type }
    total_count
  }
}"""
OWN = """query($limit:Int!, $offset:Int!, $filter: String, $order: String) {
  vfolder_own_list(
      limit:$limit, offset:$offset, filter:$filter, order:$order) {
    items { host name status created_at creator group permission ownership_type }
    total_count
  }
}"""
STORAGE_LIST = """query($limit:Int!, $offset:Int!, $filter: String, $order: String) {
  storage_volume_list(
      limit:$limit, offset:$offset, filter:$filter, order:$order) {
    items { id backend capabilities }
    total_count
  }
}"""
STORAGE_INFO = """query($vfolder_host: String!) {
    storage_volume(id: $vfolder_host) { id backend path fsprefix capabilities hardware_metadata }
}"""


def run(api: Api, query: str, **variables: Any) -> tuple[dict[str, Any], int]:
    variables = {"limit": 20, "offset": 0, "filter": None, "order": None, **variables}
    with CaptureQueriesContext(connection) as queries:
        result = schema.execute(
            query, variables=variables, context_value={"keypair": api.creds.keypair}
        )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data, len(queries)


class TestVFolderList:
    def test_own_and_invited_folders_only_with_constant_queries(self, alice: Api, bob: Api) -> None:
        bob.call("POST", "/folders", {"name": "bobs"})
        alice.call("POST", "/folders", {"name": "a0"})
        data, few = run(alice, V1)
        assert [i["name"] for i in data["vfolder_list"]["items"]] == ["a0"]
        assert list(data["vfolder_list"]["items"][0]) == [
            "host", "name", "status", "created_at", "creator", "group", "permission",
            "ownership_type",
        ]  # fmt: skip
        for i in range(1, 8):
            alice.call("POST", "/folders", {"name": f"a{i}"})
        data, many = run(alice, V1)
        assert data["vfolder_list"]["total_count"] == 8
        assert few == many
        own, _ = run(bob, OWN)
        assert [i["name"] for i in own["vfolder_own_list"]["items"]] == ["bobs"]

    def test_filter_is_refused_not_ignored(self, alice: Api) -> None:
        result = schema.execute(
            V1, variables={"limit": 20, "offset": 0, "filter": 'name == "x"'},
            context_value={"keypair": alice.creds.keypair},
        )  # fmt: skip
        assert result.errors


class TestStorageVolumes:
    def test_admin_lists_and_reads_volumes(self, make_api: Any) -> None:
        admin = make_api(email="root@example.com", username="root", role=UserRole.SUPERADMIN)
        data, _ = run(admin, STORAGE_LIST)
        assert data["storage_volume_list"]["items"][0]["id"] == "local:volume1"
        info, _ = run(admin, STORAGE_INFO, vfolder_host="local:volume1")
        assert info["storage_volume"]["backend"] == "vfs"

    def test_users_do_not_see_volumes(self, alice: Api) -> None:
        result = schema.execute(
            STORAGE_LIST, variables={"limit": 20, "offset": 0},
            context_value={"keypair": alice.creds.keypair},
        )  # fmt: skip
        assert result.errors
