"""Resource policy queries and mutations of the admin GraphQL per role (the SDK's documents)."""

from __future__ import annotations

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import (
    KeypairResourcePolicy,
    ProjectResourcePolicy,
    UserResourcePolicy,
)
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.gql import gql

pytestmark = pytest.mark.django_db

KP_FIELDS = """name created_at total_resource_slots max_session_lifetime max_concurrent_sessions
  idle_timeout max_containers_per_session allowed_vfolder_hosts max_pending_session_count
  max_pending_session_resource_slots max_concurrent_sftp_sessions default_for_unspecified"""
KP_LIST = "query { keypair_resource_policies { " + KP_FIELDS + " } }"
KP_INFO = "query($name: String) { keypair_resource_policy(name: $name) { " + KP_FIELDS + " } }"
KP_CREATE = """mutation($name: String!, $input: CreateKeyPairResourcePolicyInput!) {
  create_keypair_resource_policy(name: $name, props: $input) {
    ok msg resource_policy { name } } }"""
KP_MODIFY = """mutation($name: String!, $input: ModifyKeyPairResourcePolicyInput!) {
  modify_keypair_resource_policy(name: $name, props: $input) { ok msg } }"""
KP_DELETE = """mutation($name: String!) {
  delete_keypair_resource_policy(name: $name) { ok msg } }"""
USER_CREATE = """mutation($name: String!, $input: CreateUserResourcePolicyInput!) {
  create_user_resource_policy(name: $name, props: $input) { ok msg } }"""
USER_LIST = """query { user_resource_policies { name max_vfolder_count max_quota_scope_size
  max_session_count_per_model_session max_customized_image_count } }"""
USER_ONE = "query($name: String!) { user_resource_policy(name: $name) { name max_vfolder_count } }"
USER_DELETE = "mutation($name: String!) { delete_user_resource_policy(name: $name) { ok msg } }"
PROJECT_CREATE = """mutation($name: String!, $input: CreateProjectResourcePolicyInput!) {
  create_project_resource_policy(name: $name, props: $input) { ok msg } }"""
PROJECT_MODIFY = """mutation($name: String!, $input: ModifyProjectResourcePolicyInput!) {
  modify_project_resource_policy(name: $name, props: $input) { ok msg } }"""
PROJECT_LIST = "query { project_resource_policies { name max_network_count } }"

CLI_ADD = {
    "default_for_unspecified": "UNLIMITED",
    "total_resource_slots": '{"cpu": "4"}',
    "max_session_lifetime": 0,
    "max_concurrent_sessions": 3,
    "max_concurrent_sftp_sessions": 30,
    "max_containers_per_session": 1,
    "idle_timeout": 1800,
    "allowed_vfolder_hosts": '{"local:volume1": ["mount-in-session"]}',
    "max_pending_session_count": None,
    "max_pending_session_resource_slots": None,
}


class TestKeypairPolicies:
    def test_superadmin_lifecycle(self, world: ComputeWorld) -> None:
        created, errors = gql(world.admin, KP_CREATE, name="small", input=CLI_ADD)
        modified, _ = gql(
            world.admin,
            KP_MODIFY,
            name="small",
            input={"max_concurrent_sessions": 5, "max_pending_session_count": 2},
        )
        info, _ = gql(world.admin, KP_INFO, name="small")

        assert errors == [] and created["create_keypair_resource_policy"]["ok"], created
        assert modified["modify_keypair_resource_policy"]["ok"]
        policy = info["keypair_resource_policy"]
        assert policy["total_resource_slots"] == '{"cpu": "4"}'
        assert (policy["max_concurrent_sessions"], policy["max_pending_session_count"]) == (5, 2)
        assert policy["max_pending_session_resource_slots"] is None

        deleted, _ = gql(world.admin, KP_DELETE, name="small")
        assert deleted["delete_keypair_resource_policy"]["ok"]
        assert not KeypairResourcePolicy.objects.filter(name="small").exists()

    def test_refusals_and_scope(self, world: ComputeWorld) -> None:
        dadmin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)
        KeypairResourcePolicy.objects.create(name="unused")

        _, by_admin = gql(dadmin, KP_CREATE, name="x", input=CLI_ADD)
        _, by_user = gql(world.user, KP_DELETE, name="unused")
        in_use, _ = gql(world.admin, KP_CREATE, name="y", input={**CLI_ADD, "idle_timeout": -1})
        bad_json, _ = gql(
            world.admin, KP_MODIFY, name="unused", input={"total_resource_slots": "{x"}
        )
        _, default = gql(world.admin, KP_DELETE, name="default")
        staff, _ = gql(dadmin, KP_LIST)
        own, _ = gql(world.user, KP_LIST)
        mine, _ = gql(world.user, KP_INFO)
        other, _ = gql(world.user, KP_INFO, name="unused")

        assert by_admin == ["a admin may not manage resource policies"]
        assert by_user == ["a user may not manage resource policies"]
        assert "idle_timeout" in in_use["create_keypair_resource_policy"]["msg"]
        assert "not valid JSON" in bad_json["modify_keypair_resource_policy"]["msg"]
        assert default == ["the default policy cannot be deleted"]
        assert {p["name"] for p in staff["keypair_resource_policies"]} == {"default", "unused"}
        assert [p["name"] for p in own["keypair_resource_policies"]] == ["default"]
        assert mine["keypair_resource_policy"]["name"] == "default"
        assert other["keypair_resource_policy"] is None

    def test_a_policy_in_use_is_not_deleted(self, world: ComputeWorld) -> None:
        policy = KeypairResourcePolicy.objects.create(name="used")
        world.user.keypair.resource_policy = policy
        world.user.keypair.save()

        deleted, _ = gql(world.admin, KP_DELETE, name="used")

        assert deleted["delete_keypair_resource_policy"] == {
            "ok": False,
            "msg": "the policy used is still in use",
        }


class TestUserAndProjectPolicies:
    def test_user_policies(self, world: ComputeWorld) -> None:
        created, _ = gql(
            world.admin,
            USER_CREATE,
            name="big",
            input={
                "max_vfolder_count": 9,
                "max_quota_scope_size": -1,
                "max_session_count_per_model_session": 2,
                "max_customized_image_count": 1,
            },
        )
        staff, _ = gql(world.admin, USER_LIST)
        own, _ = gql(world.user, USER_LIST)
        unseen, _ = gql(world.user, USER_ONE, name="big")
        _, by_user = gql(world.user, USER_DELETE, name="big")
        deleted, _ = gql(world.admin, USER_DELETE, name="big")

        assert created["create_user_resource_policy"]["ok"]
        assert {p["name"] for p in staff["user_resource_policies"]} == {"default", "big"}
        assert [p["name"] for p in own["user_resource_policies"]] == ["default"]
        assert unseen["user_resource_policy"] is None
        assert by_user == ["a user may not manage resource policies"]
        assert deleted["delete_user_resource_policy"]["ok"]
        assert not UserResourcePolicy.objects.filter(name="big").exists()

    def test_project_policies(self, world: ComputeWorld) -> None:
        created, _ = gql(world.admin, PROJECT_CREATE, name="team", input={"max_network_count": 1})
        modified, _ = gql(world.admin, PROJECT_MODIFY, name="team", input={"max_network_count": 4})
        unknown, _ = gql(world.admin, PROJECT_MODIFY, name="nope", input={})
        listed, _ = gql(world.user, PROJECT_LIST)

        assert created["create_project_resource_policy"]["ok"]
        assert modified["modify_project_resource_policy"]["ok"]
        assert ProjectResourcePolicy.objects.get(name="team").max_network_count == 4
        assert unknown["modify_project_resource_policy"]["msg"] == (
            "no project resource policy 'nope'"
        )
        assert [p["name"] for p in listed["project_resource_policies"]] == ["default"]
