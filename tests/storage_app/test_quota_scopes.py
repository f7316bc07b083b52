"""Quota scopes over GraphQL (`admin quota-scope get/set/unset`): usage and the limit in force,
an administrator's limit replacing the policy's and refusing an upload past it, and who may see
or change which scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.graphql.schema import schema
from storage_app.models import QuotaScopeLimit, VFolder
from tests.factories.accounts import DomainFactory
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db

HOST = "local:volume1"
GET = """query($storage_host_name: String!, $quota_scope_id: String!) {
    quota_scope(storage_host_name: $storage_host_name, quota_scope_id: $quota_scope_id) {
        details { usage_bytes usage_count hard_limit_bytes }
    }
}"""
SET = """mutation($storage_host_name: String!, $quota_scope_id: String!,
                  $input: QuotaScopeInput!) {
    set_quota_scope(storage_host_name: $storage_host_name, quota_scope_id: $quota_scope_id,
                    props: $input) {
        quota_scope { quota_scope_id storage_host_name }
    }
}"""
UNSET = """mutation($storage_host_name: String!, $quota_scope_id: String!) {
    unset_quota_scope(storage_host_name: $storage_host_name, quota_scope_id: $quota_scope_id) {
        quota_scope { quota_scope_id storage_host_name }
    }
}"""


def gql(api: Api, query: str, **variables: Any) -> tuple[dict[str, Any] | None, str | None]:
    variables = {"storage_host_name": HOST, **variables}
    context = {"keypair": api.creds.keypair}
    result = schema.execute(query, variables=variables, context_value=context)
    error = str(result.errors[0]) if result.errors else None
    return result.data, error


def scope_of(api: Api) -> str:
    return f"user:{api.creds.user.pk}"


def details(api: Api, quota_scope_id: str) -> dict[str, Any]:
    data, error = gql(api, GET, quota_scope_id=quota_scope_id)
    assert error is None, error
    assert data is not None
    return dict(data["quota_scope"]["details"])


@pytest.fixture
def domain_admin(make_api: Callable[..., Api]) -> Api:
    return make_api(email="dadmin@example.com", username="dadmin", role=UserRole.ADMIN)


class TestGet:
    def test_usage_and_the_policy_limit(self, alice: Api, domain_admin: Api) -> None:
        policy = alice.creds.user.resource_policy
        policy.max_quota_scope_size = 5000
        policy.save()
        for name in ("a1", "a2"):
            assert alice.call("POST", "/folders", {"name": name}).status_code == 201
        VFolder.objects.filter(name="a1").update(cur_size=300)

        assert details(domain_admin, scope_of(alice)) == {
            "usage_bytes": 300, "usage_count": 2, "hard_limit_bytes": 5000,
        }  # fmt: skip

    def test_a_user_sees_their_own_scope_only(self, alice: Api, bob: Api) -> None:
        assert details(alice, scope_of(alice))["usage_count"] == 0

        _, error = gql(alice, GET, quota_scope_id=scope_of(bob))

        assert error is not None and "No quota scope" in error

    def test_another_domains_admin_cannot_see_it(
        self, alice: Api, make_api: Callable[..., Api]
    ) -> None:
        outsider = make_api(
            email="other@example.com", username="other", role=UserRole.ADMIN,
            domain=DomainFactory.create(name="other-domain"),
        )  # fmt: skip

        _, error = gql(outsider, GET, quota_scope_id=scope_of(alice))

        assert error is not None and "No quota scope" in error

    @pytest.mark.parametrize(
        ("host", "quota_scope_id", "message"),
        [
            (HOST, "user:not-a-uuid", "is not a quota scope id"),
            (HOST, "volume:00000000-0000-0000-0000-000000000000", "is not a quota scope id"),
            ("local:nowhere", None, "No quota scope"),
            (HOST, "user:00000000-0000-0000-0000-000000000000", "No quota scope"),
        ],
    )
    def test_bad_references_are_errors(
        self, domain_admin: Api, alice: Api, host: str, quota_scope_id: str | None, message: str
    ) -> None:
        _, error = gql(
            domain_admin,
            GET,
            storage_host_name=host,
            quota_scope_id=quota_scope_id or scope_of(alice),
        )

        assert error is not None and message in error, error


class TestSetAndUnset:
    def test_a_limit_replaces_the_policy_and_refuses_uploads_past_it(
        self, alice: Api, domain_admin: Api
    ) -> None:
        assert alice.call("POST", "/folders", {"name": "data"}).status_code == 201
        folder = VFolder.objects.get(name="data")

        data, error = gql(domain_admin, SET, quota_scope_id=scope_of(alice), input={
            "hard_limit_bytes": 1000,
        })  # fmt: skip

        assert error is None, error
        assert data is not None
        assert data["set_quota_scope"]["quota_scope"] == {
            "quota_scope_id": scope_of(alice), "storage_host_name": HOST,
        }  # fmt: skip
        assert details(alice, scope_of(alice))["hard_limit_bytes"] == 1000
        refused = alice.call(
            "POST", f"/folders/{folder.pk}/request-upload", {"path": "f", "size": 1001}
        )
        assert refused.status_code == 400
        assert refused.json()["type"].endswith("/vfolder-quota-exceeded")

        _, error = gql(domain_admin, UNSET, quota_scope_id=scope_of(alice))

        assert error is None, error
        assert details(alice, scope_of(alice))["hard_limit_bytes"] is None
        assert not QuotaScopeLimit.objects.exists()
        fits = alice.call(
            "POST", f"/folders/{folder.pk}/request-upload", {"path": "f", "size": 1001}
        )
        assert fits.status_code == 200, fits.content

    def test_a_plain_user_may_not_change_even_their_own(self, alice: Api) -> None:
        _, error = gql(alice, SET, quota_scope_id=scope_of(alice), input={"hard_limit_bytes": 10})

        assert error is not None and "Only superadmins and domain admins" in error
        assert not QuotaScopeLimit.objects.exists()

    def test_a_limit_must_be_positive(self, alice: Api, domain_admin: Api) -> None:
        _, error = gql(domain_admin, SET, quota_scope_id=scope_of(alice), input={
            "hard_limit_bytes": 0,
        })  # fmt: skip

        assert error is not None and "positive" in error
        assert not QuotaScopeLimit.objects.exists()

    def test_without_a_value_nothing_changes(self, alice: Api, domain_admin: Api) -> None:
        _, error = gql(domain_admin, SET, quota_scope_id=scope_of(alice), input={})

        assert error is None
        assert not QuotaScopeLimit.objects.exists()
