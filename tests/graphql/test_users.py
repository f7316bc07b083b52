"""User queries and mutations of the admin GraphQL per role (the official client's documents)."""

from __future__ import annotations

from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole, UserStatus
from backendai_site.accounts.models import Domain, KeyPair, Project, User
from backendai_site.accounts.services import keypair_issue, user_create
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials
from tests.helpers.gql import gql

pytestmark = pytest.mark.django_db

LIST = """query($limit:Int!, $offset:Int!, $status: String, $group_id: UUID, $filter: String,
  $order: String) { user_list(limit:$limit, offset:$offset, status:$status, group_id:$group_id,
  filter:$filter, order:$order) { items { uuid email role domain_name groups { id name }
  main_access_key } total_count } }"""
DETAIL = "query($email: String) { user(email: $email) { email role groups { id name } } }"
CREATE = """mutation($email: String!, $input: UserInput!) {
  create_user(email: $email, props: $input) {
    ok msg user { domain_name email username uuid groups { id name } } } }"""
MODIFY = """mutation($email: String!, $input: ModifyUserInput!) { modify_user(email: $email,
  props: $input) { ok msg } }"""
DELETE = "mutation($email: String!) { delete_user(email: $email) { ok msg } }"
PURGE = """mutation($email: String!, $input: PurgeUserInput!) { purge_user(email: $email,
  props: $input) { ok msg } }"""


def new_user_input(domain: str, **extra: Any) -> dict[str, Any]:
    return {
        "password": "pw-123456",
        "role": "user",
        "status": "active",
        "need_password_change": False,
        "description": "",
        "domain_name": domain,
        "totp_activated": False,
        "sudo_session_enabled": False,
        **extra,
    }


@pytest.fixture
def other_domain(world: ComputeWorld) -> Credentials:
    domain = Domain.objects.create(name="other")
    user = user_create(email="far@example.com", password="pw-123456", domain=domain)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


@pytest.fixture
def domain_admin(world: ComputeWorld) -> Credentials:
    return make_member(world.project, "dadmin@example.com", UserRole.ADMIN)


class TestUserList:
    def test_superadmin_sees_every_domain_in_constant_queries(
        self,
        world: ComputeWorld,
        other_domain: Credentials,
        django_assert_num_queries: Any,
    ) -> None:
        with django_assert_num_queries(4):  # page, count, projects, keypairs
            data, errors = gql(world.admin, LIST, limit=50, offset=0)
        for i in range(5):
            make_member(world.project, f"many{i}@example.com")
        with django_assert_num_queries(4):
            data, errors = gql(world.admin, LIST, limit=50, offset=0)

        assert errors == []
        emails = {item["email"] for item in data["user_list"]["items"]}
        assert {"far@example.com", world.user.user.email, "many4@example.com"} <= emails
        assert data["user_list"]["total_count"] == len(emails)
        mine = next(i for i in data["user_list"]["items"] if i["email"] == world.user.user.email)
        assert mine["groups"] == [{"id": str(world.project.pk), "name": world.project.name}]
        assert mine["main_access_key"] == world.user.access_key

    def test_domain_admin_sees_only_its_domain(
        self, domain_admin: Credentials, other_domain: Credentials
    ) -> None:
        data, errors = gql(domain_admin, LIST, limit=50, offset=0)

        assert errors == []
        assert {i["domain_name"] for i in data["user_list"]["items"]} == {"default"}

    def test_plain_user_may_not_list(self, world: ComputeWorld) -> None:
        _, errors = gql(world.user, LIST, limit=10, offset=0)

        assert errors == ["listing users needs an admin or monitor role"]

    def test_filter_and_order(self, world: ComputeWorld, other_domain: Credentials) -> None:
        data, errors = gql(
            world.admin, LIST, limit=50, offset=0,
            filter='email ilike "%FAR%" | role == "superadmin"', order="-email",
        )  # fmt: skip

        assert errors == []
        emails = [i["email"] for i in data["user_list"]["items"]]
        assert emails == sorted([world.admin.user.email, "far@example.com"], reverse=True)

    @pytest.mark.parametrize(
        ("expr", "message"),
        [
            ('password == "x"', "cannot filter by 'password'"),
            ('email == "x" &', "expected a field name at the end"),
            ("email ~ 1", "unexpected character"),
            ("__import__('os')", "cannot filter by '__import__'"),
            ('email startswith "a"', "unknown operator 'startswith'"),
        ],
    )
    def test_bad_filter_is_an_error_naming_the_problem(
        self, world: ComputeWorld, expr: str, message: str
    ) -> None:
        _, errors = gql(world.admin, LIST, limit=10, offset=0, filter=expr)

        assert len(errors) == 1 and message in errors[0]

    def test_bad_order_is_an_error(self, world: ComputeWorld) -> None:
        _, errors = gql(world.admin, LIST, limit=10, offset=0, order="password")

        assert errors and "cannot order by 'password'" in errors[0]


class TestUserDetail:
    def test_user_sees_itself_but_not_others(self, world: ComputeWorld) -> None:
        me, none = gql(world.user, DETAIL)
        _, errors = gql(world.user, DETAIL, email=world.admin.user.email)

        assert none == [] and me["user"]["email"] == world.user.user.email
        assert errors and "no user" in errors[0]

    def test_domain_admin_cannot_see_another_domain(
        self, domain_admin: Credentials, other_domain: Credentials
    ) -> None:
        _, errors = gql(domain_admin, DETAIL, email="far@example.com")

        assert errors and "no user 'far@example.com'" in errors[0]


class TestUserMutations:
    def test_superadmin_creates_updates_deletes_and_purges(self, world: ComputeWorld) -> None:
        created, errors = gql(
            world.admin, CREATE, email="new@example.com",
            input=new_user_input("default", username="newbie", group_ids=[str(world.project.pk)]),
        )  # fmt: skip
        assert errors == [] and created["create_user"]["ok"], created
        assert created["create_user"]["user"]["groups"] == [
            {"id": str(world.project.pk), "name": world.project.name}
        ]
        user = User.objects.get(email="new@example.com")
        assert user.check_password("pw-123456")
        assert KeyPair.objects.filter(user=user, is_active=True).count() == 1

        modified, _ = gql(
            world.admin, MODIFY, email="new@example.com",
            input={"full_name": "New Person", "role": "admin", "group_ids": []},
        )  # fmt: skip
        user.refresh_from_db()
        assert modified["modify_user"] == {"ok": True, "msg": "success"}
        assert (user.full_name, user.role) == ("New Person", UserRole.ADMIN)
        assert not user.projects.exists()

        deleted, _ = gql(world.admin, DELETE, email="new@example.com")
        user.refresh_from_db()
        assert deleted["delete_user"]["ok"] and user.status == UserStatus.DELETED
        assert not KeyPair.objects.filter(user=user, is_active=True).exists()

        purged, _ = gql(world.admin, PURGE, email="new@example.com", input={})
        assert purged["purge_user"]["ok"]
        assert not User.objects.filter(email="new@example.com").exists()

    def test_domain_admin_stays_in_its_domain_and_below_its_role(
        self, world: ComputeWorld, domain_admin: Credentials, other_domain: Credentials
    ) -> None:
        _elsewhere, e1 = gql(
            domain_admin, CREATE, email="x@example.com", input=new_user_input("other")
        )
        _superadmin, e2 = gql(
            domain_admin, CREATE, email="y@example.com",
            input=new_user_input("default", role="superadmin"),
        )  # fmt: skip
        fine, e3 = gql(domain_admin, CREATE, email="z@example.com", input=new_user_input("default"))
        _promote, e4 = gql(
            domain_admin, MODIFY, email="z@example.com", input={"role": "superadmin"}
        )
        _touch_admin, e5 = gql(domain_admin, MODIFY, email=world.admin.user.email, input={})
        far, _ = gql(domain_admin, DELETE, email="far@example.com")
        watcher, _ = gql(domain_admin, MODIFY, email="z@example.com", input={"role": "monitor"})

        assert e1 == ["you may not manage the domain other"]
        assert e2 == ["a admin may not grant the role superadmin"]
        assert e3 == [] and fine["create_user"]["ok"]
        assert e4 == ["a admin may not grant the role superadmin"]
        assert e5 == [f"you may not change the user {world.admin.user.email}"]
        assert far["delete_user"] == {
            "ok": False,
            "msg": "no user 'far@example.com' visible to you",
        }
        assert User.objects.get(email="far@example.com").status == UserStatus.ACTIVE
        assert watcher["modify_user"]["ok"]
        assert not User.objects.get(email="z@example.com").monitors_all_domains

    @pytest.mark.parametrize("role", [UserRole.USER, UserRole.MONITOR])
    def test_users_and_monitors_change_nothing(self, world: ComputeWorld, role: UserRole) -> None:
        creds = make_member(world.project, f"{role}-x@example.com", role)

        _, create = gql(creds, CREATE, email="n@example.com", input=new_user_input("default"))
        _, modify = gql(creds, MODIFY, email=creds.user.email, input={"role": "superadmin"})
        _, delete = gql(creds, DELETE, email=world.user.user.email)

        assert create == modify == delete == [f"a {role} may not change accounts"]
        assert not User.objects.filter(email="n@example.com").exists()

    def test_refusals_that_are_not_about_roles_come_back_as_ok_false(
        self, world: ComputeWorld
    ) -> None:
        duplicate, _ = gql(
            world.admin, CREATE, email=world.user.user.email, input=new_user_input("default")
        )
        totp, _ = gql(
            world.admin, CREATE, email="t@example.com",
            input=new_user_input("default", totp_activated=True),
        )  # fmt: skip
        unknown_group, _ = gql(
            world.admin, CREATE, email="g@example.com",
            input=new_user_input("default", group_ids=["00000000-0000-0000-0000-000000000009"]),
        )  # fmt: skip
        _self_delete, errors = gql(world.admin, DELETE, email=world.admin.user.email)

        assert duplicate["create_user"]["ok"] is False
        assert "already exists" in duplicate["create_user"]["msg"]
        assert totp["create_user"]["msg"] == "totp_activated is not supported by this server"
        assert "not in the domain default" in unknown_group["create_user"]["msg"]
        assert errors == ["you may not delete yourself"]

    def test_purge_is_refused_while_a_session_lives(self, world: ComputeWorld) -> None:
        session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate(
                {"image": "python", "name": "alive", "enqueueOnly": True}
            ),
        )

        purged, _ = gql(world.admin, PURGE, email=world.user.user.email, input={})

        assert purged["purge_user"]["ok"] is False
        assert "still has 1 live session" in purged["purge_user"]["msg"]


class TestGroupsByName:
    def test_scoped_by_membership(self, world: ComputeWorld, other_domain: Credentials) -> None:
        Project.objects.create(
            name="default", domain=Domain.objects.get(name="other"),
            resource_policy=world.project.resource_policy,
        )  # fmt: skip
        query = "query($name: String!, $domain_name: String) { groups_by_name(name: $name, domain_name: $domain_name) { id name domain_name } }"  # noqa: E501

        everywhere, _ = gql(world.admin, query, name="default")
        mine, _ = gql(world.user, query, name="default")
        outsider, _ = gql(other_domain, query, name="default", domain_name="default")

        assert {g["domain_name"] for g in everywhere["groups_by_name"]} == {"default", "other"}
        assert mine["groups_by_name"] == [
            {"id": str(world.project.pk), "name": "default", "domain_name": "default"}
        ]
        assert outsider["groups_by_name"] == []
