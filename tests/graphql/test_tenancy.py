"""Domain and project queries and mutations of the admin GraphQL per role."""

from __future__ import annotations

from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, Project, ProjectMembership
from backendai_site.accounts.services import keypair_issue, user_create
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials
from tests.helpers.gql import gql

pytestmark = pytest.mark.django_db

DOMAINS = "query { domains { name is_active total_resource_slots allowed_docker_registries } }"
DOMAIN = "query($name: String) { domain(name: $name) { name description } }"
CREATE_DOMAIN = """mutation($name: String!, $input: DomainInput!) {
  create_domain(name: $name, props: $input) { ok msg domain { name } } }"""
MODIFY_DOMAIN = """mutation($name: String!, $input: ModifyDomainInput!) {
  modify_domain(name: $name, props: $input) { ok msg } }"""
DELETE_DOMAIN = "mutation($name: String!) { delete_domain(name: $name) { ok msg } }"
PURGE_DOMAIN = "mutation($name: String!) { purge_domain(name: $name) { ok msg } }"
GROUPS = "query($domain_name: String) { groups(domain_name: $domain_name) { id name domain_name } }"
GROUP = "query($gid: UUID!) { group(id: $gid) { id name description total_resource_slots } }"
CREATE_GROUP = """mutation($name: String!, $input: GroupInput!) {
  create_group(name: $name, props: $input) { ok msg group { id domain_name name } } }"""
MODIFY_GROUP = """mutation($gid: UUID!, $input: ModifyGroupInput!) {
  modify_group(gid: $gid, props: $input) { ok msg } }"""
DELETE_GROUP = "mutation($gid: UUID!) { delete_group(gid: $gid) { ok msg } }"
PURGE_GROUP = "mutation($gid: UUID!) { purge_group(gid: $gid) { ok msg } }"


@pytest.fixture
def far(world: ComputeWorld) -> Credentials:
    domain = Domain.objects.create(name="other")
    user = user_create(email="far@example.com", password="pw-123456", domain=domain)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


@pytest.fixture
def dadmin(world: ComputeWorld) -> Credentials:
    return make_member(world.project, "dadmin@example.com", UserRole.ADMIN)


class TestDomains:
    def test_superadmin_lifecycle(self, world: ComputeWorld) -> None:
        created, _ = gql(
            world.admin,
            CREATE_DOMAIN,
            name="lab",
            input={"description": "", "is_active": True, "total_resource_slots": '{"cpu": "8"}'},
        )
        modified, _ = gql(
            world.admin,
            MODIFY_DOMAIN,
            name="lab",
            input={"description": "Lab", "allowed_docker_registries": ["cr.io"]},
        )
        listed, _ = gql(world.admin, DOMAINS)
        deleted, _ = gql(world.admin, DELETE_DOMAIN, name="lab")

        assert created["create_domain"] == {"ok": True, "msg": "success", "domain": {"name": "lab"}}
        assert modified["modify_domain"]["ok"]
        lab = next(d for d in listed["domains"] if d["name"] == "lab")
        assert lab["total_resource_slots"] == '{"cpu": "8"}'
        assert lab["allowed_docker_registries"] == ["cr.io"]
        assert deleted["delete_domain"]["ok"] and not Domain.objects.get(name="lab").is_active

        purged, _ = gql(world.admin, PURGE_DOMAIN, name="lab")
        assert purged["purge_domain"]["ok"] and not Domain.objects.filter(name="lab").exists()

    def test_refusals(self, world: ComputeWorld, dadmin: Credentials, far: Credentials) -> None:
        _, by_admin = gql(dadmin, CREATE_DOMAIN, name="x", input={})
        _, by_admin_modify = gql(dadmin, MODIFY_DOMAIN, name="default", input={"description": "x"})
        busy, _ = gql(world.admin, PURGE_DOMAIN, name="other")
        bad_json, _ = gql(
            world.admin, CREATE_DOMAIN, name="y", input={"total_resource_slots": "{nope"}
        )
        duplicate, _ = gql(world.admin, CREATE_DOMAIN, name="other", input={})
        _, default_purge = gql(world.admin, PURGE_DOMAIN, name="default")

        assert by_admin == by_admin_modify == ["a admin may not manage domains"]
        assert (
            busy["purge_domain"]["msg"] == "the domain other still has 1 user(s) and 0 project(s)"
        )
        assert "total_resource_slots is not valid JSON" in bad_json["create_domain"]["msg"]
        assert duplicate["create_domain"]["msg"] == "a domain named other already exists"
        assert default_purge == ["the default domain cannot be purged"]

    def test_scopes(self, world: ComputeWorld, dadmin: Credentials, far: Credentials) -> None:
        admin_list, _ = gql(dadmin, DOMAINS)
        _, user_list = gql(world.user, DOMAINS)
        own, _ = gql(world.user, DOMAIN)
        other, _ = gql(world.user, DOMAIN, name="other")
        everything, _ = gql(world.admin, DOMAINS)

        assert [d["name"] for d in admin_list["domains"]] == ["default"]
        assert user_list == ["listing domains needs an admin or monitor role"]
        assert own["domain"]["name"] == "default" and other["domain"] is None
        assert [d["name"] for d in everything["domains"]] == ["default", "other"]


class TestGroups:
    def test_domain_admin_manages_projects_of_its_domain(
        self, world: ComputeWorld, dadmin: Credentials, far: Credentials
    ) -> None:
        created, _ = gql(
            dadmin,
            CREATE_GROUP,
            name="team",
            input={
                "description": "",
                "is_active": True,
                "domain_name": "default",
                "total_resource_slots": "{}",
                "allowed_vfolder_hosts": "{}",
            },
        )
        assert created["create_group"]["ok"], created
        gid = created["create_group"]["group"]["id"]
        project = Project.objects.get(pk=gid)

        added, _ = gql(
            dadmin,
            MODIFY_GROUP,
            gid=gid,
            input={"user_update_mode": "add", "user_uuids": [str(world.user.user.pk)]},
        )
        foreign, _ = gql(
            dadmin,
            MODIFY_GROUP,
            gid=gid,
            input={"user_update_mode": "add", "user_uuids": [str(far.user.pk)]},
        )
        renamed, _ = gql(dadmin, MODIFY_GROUP, gid=gid, input={"name": "team2", "description": "T"})
        detail, _ = gql(world.user, GROUP, gid=gid)
        removed, _ = gql(
            dadmin,
            MODIFY_GROUP,
            gid=gid,
            input={"user_update_mode": "remove", "user_uuids": [str(world.user.user.pk)]},
        )
        elsewhere, _ = gql(dadmin, CREATE_GROUP, name="x", input={"domain_name": "other"})

        assert added["modify_group"]["ok"] and renamed["modify_group"]["ok"]
        assert "not in the domain default" in foreign["modify_group"]["msg"]
        assert detail["group"] == {
            "id": gid,
            "name": "team2",
            "description": "T",
            "total_resource_slots": "{}",
        }
        assert removed["modify_group"]["ok"]
        assert not ProjectMembership.objects.filter(project=project).exists()
        assert elsewhere == {"create_group": None}

        deleted, _ = gql(dadmin, DELETE_GROUP, gid=gid)
        purged, _ = gql(dadmin, PURGE_GROUP, gid=gid)
        assert deleted["delete_group"]["ok"] and purged["purge_group"]["ok"]
        assert not Project.objects.filter(pk=gid).exists()

    def test_scopes_and_refusals(
        self, world: ComputeWorld, dadmin: Credentials, far: Credentials
    ) -> None:
        far_project = Project.objects.create(
            name="far", domain=far.user.domain, resource_policy=world.project.resource_policy
        )
        session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate(
                {"image": "python", "name": "g-live", "enqueueOnly": True}
            ),
        )

        mine, _ = gql(world.user, GROUPS)
        domain, _ = gql(dadmin, GROUPS)
        every, _ = gql(world.admin, GROUPS)
        unseen, _ = gql(dadmin, MODIFY_GROUP, gid=str(far_project.pk), input={"name": "x"})
        _, by_user = gql(world.user, DELETE_GROUP, gid=str(world.project.pk))
        busy, _ = gql(world.admin, PURGE_GROUP, gid=str(world.project.pk))

        assert [g["name"] for g in mine["groups"]] == ["default"]
        assert [g["domain_name"] for g in domain["groups"]] == ["default"]
        assert {g["name"] for g in every["groups"]} == {"default", "far"}
        assert unseen["modify_group"]["msg"] == f"no project {far_project.pk} you manage"
        assert by_user == ["a user may not change accounts"]
        assert busy["purge_group"]["msg"] == "the project default still has 1 live session(s)"

    def test_list_query_count_is_constant(
        self, world: ComputeWorld, django_assert_num_queries: Any
    ) -> None:
        with django_assert_num_queries(1):
            gql(world.admin, GROUPS)
        for i in range(3):
            Project.objects.create(
                name=f"p{i}", domain=world.domain, resource_policy=world.project.resource_policy
            )
        with django_assert_num_queries(1):
            data, _ = gql(world.admin, GROUPS)
        assert len(data["groups"]) == 4
