"""Keypair queries and mutations of the admin GraphQL per role (the official client's documents)."""

from __future__ import annotations

from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, KeyPair
from backendai_site.accounts.services import keypair_issue, keypair_secret, user_create
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials
from tests.helpers.gql import gql
from tests.helpers.sessions import enqueue

pytestmark = pytest.mark.django_db

LIST = """query($limit:Int!, $offset:Int!, $is_active: Boolean, $domain_name: String,
  $filter: String, $order: String, $email: String) { keypair_list(limit:$limit, offset:$offset,
  is_active:$is_active, domain_name:$domain_name, filter:$filter, order:$order, email:$email) {
  items { user_id projects user_info { full_name } access_key secret_key is_active is_admin
  resource_policy rate_limit concurrency_used } total_count } }"""
CREATE = """mutation($user_id: String!, $input: KeyPairInput!) {
  create_keypair(user_id: $user_id, props: $input) { ok msg keypair { access_key secret_key } } }"""
MODIFY = """mutation($access_key: String!, $input: ModifyKeyPairInput!) {
  modify_keypair(access_key: $access_key, props: $input) { ok msg } }"""
DELETE = """mutation($access_key: String!) { delete_keypair(access_key: $access_key) { ok msg } }"""


@pytest.fixture
def far(world: ComputeWorld) -> Credentials:
    domain = Domain.objects.create(name="other")
    user = user_create(email="far@example.com", password="pw-123456", domain=domain)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


class TestKeypairList:
    def test_constant_queries_and_live_session_counts(
        self, world: ComputeWorld, far: Credentials, django_assert_num_queries: Any
    ) -> None:
        enqueue(world.user, "kp-a")
        with django_assert_num_queries(3):  # page (with the live-session count), count, projects
            gql(world.admin, LIST, limit=50, offset=0)
        for i in range(4):
            make_member(world.project, f"kp{i}@example.com")
        with django_assert_num_queries(3):
            data, errors = gql(world.admin, LIST, limit=50, offset=0)

        assert errors == []
        items = {i["access_key"]: i for i in data["keypair_list"]["items"]}
        assert data["keypair_list"]["total_count"] == len(items) == 7
        mine = items[world.user.access_key]
        assert mine["concurrency_used"] == 1 and mine["projects"] == ["default"]
        assert mine["secret_key"] is None

    def test_scopes(self, world: ComputeWorld, far: Credentials) -> None:
        dadmin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)

        domain, _ = gql(dadmin, LIST, limit=50, offset=0)
        own, _ = gql(world.user, LIST, limit=50, offset=0)
        filtered, _ = gql(
            world.admin, LIST, limit=50, offset=0, filter='user_id == "far@example.com"'
        )

        assert far.access_key not in {i["access_key"] for i in domain["keypair_list"]["items"]}
        assert [i["access_key"] for i in own["keypair_list"]["items"]] == [world.user.access_key]
        assert [i["user_id"] for i in filtered["keypair_list"]["items"]] == ["far@example.com"]


class TestKeypairMutations:
    def test_superadmin_lifecycle(self, world: ComputeWorld) -> None:
        created, errors = gql(
            world.admin, CREATE, user_id=world.user.user.email,
            input={"is_active": True, "is_admin": False, "resource_policy": "default",
                   "rate_limit": 700},
        )  # fmt: skip
        assert errors == [] and created["create_keypair"]["ok"], created
        access_key = created["create_keypair"]["keypair"]["access_key"]
        keypair = KeyPair.objects.get(pk=access_key)
        assert keypair_secret(keypair=keypair) == created["create_keypair"]["keypair"]["secret_key"]
        assert keypair.rate_limit == 700

        off, _ = gql(world.admin, MODIFY, access_key=access_key, input={"is_active": False})
        keypair.refresh_from_db()
        assert off["modify_keypair"]["ok"] and not keypair.is_active

        gone, _ = gql(world.admin, DELETE, access_key=access_key)
        assert gone["delete_keypair"]["ok"] and not KeyPair.objects.filter(pk=access_key).exists()

    def test_refusals(self, world: ComputeWorld, far: Credentials) -> None:
        dadmin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)
        enqueue(world.user, "kp-owner")

        _, by_user = gql(world.user, MODIFY, access_key=world.user.access_key,
                         input={"rate_limit": 99999})  # fmt: skip
        outside, _ = gql(dadmin, CREATE, user_id="far@example.com", input={})
        _, on_super = gql(dadmin, MODIFY, access_key=world.admin.access_key,
                          input={"is_active": False})  # fmt: skip
        _, self_off = gql(dadmin, MODIFY, access_key=dadmin.access_key, input={"is_active": False})
        _, self_delete = gql(dadmin, DELETE, access_key=dadmin.access_key)
        with_sessions, _ = gql(world.admin, DELETE, access_key=world.user.access_key)
        bad_policy, _ = gql(world.admin, CREATE, user_id=world.user.user.email,
                            input={"resource_policy": "nope"})  # fmt: skip

        assert by_user == ["a user may not change accounts"]
        assert outside["create_keypair"] == {
            "ok": False, "msg": "no user 'far@example.com' visible to you", "keypair": None
        }  # fmt: skip
        assert on_super == [f"you may not change the user {world.admin.user.email}"]
        assert self_off == ["you may not deactivate the keypair you are signing with"]
        assert self_delete == ["you may not delete the keypair you are signing with"]
        assert "owns sessions" in with_sessions["delete_keypair"]["msg"]
        assert bad_policy["create_keypair"]["msg"] == "no keypair resource policy 'nope'"
        assert KeyPair.objects.get(pk=dadmin.access_key).is_active
        assert KeyPair.objects.get(pk=world.user.access_key).rate_limit != 99999
