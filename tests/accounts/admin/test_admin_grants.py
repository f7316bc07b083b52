"""What a domain admin may grant and pick in the console: roles at or below its own, inside its
own domain, and only its own domain's users and projects anywhere (forms, inlines,
autocompletes, raw-id lookups, actions)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, Project, ProjectMembership, User
from backendai_site.accounts.services import keypair_issue
from sessions_app.enums import SessionAction, SessionStatus
from sessions_app.selectors import sessions_for
from tests.factories.accounts import (
    DomainFactory,
    KeypairResourcePolicyFactory,
    ProjectFactory,
    UserFactory,
    UserResourcePolicyFactory,
)
from tests.factories.sessions import SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tenants() -> dict[str, Any]:
    KeypairResourcePolicyFactory.create()
    alpha, beta = DomainFactory.create(name="alpha"), DomainFactory.create(name="beta")
    return {
        "alpha": alpha,
        "beta": beta,
        "policy": UserResourcePolicyFactory.create(),
        "admin": UserFactory.create(email="admin@alpha.test", domain=alpha, role=UserRole.ADMIN),
        "alpha_user": UserFactory.create(email="user@alpha.test", domain=alpha),
        "beta_user": UserFactory.create(email="user@beta.test", domain=beta),
        "root_in_alpha": UserFactory.create(
            email="root@alpha.test", domain=alpha, role=UserRole.SUPERADMIN
        ),
        "project": ProjectFactory.create(name="alpha-proj", domain=alpha),
    }


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add_user_form(tenants: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    form = {
        "email": "new@alpha.test",
        "username": "new@alpha.test",
        "role": UserRole.USER,
        "domain": tenants["alpha"].pk,
        "resource_policy": tenants["policy"].pk,
        "usable_password": "true",
        "password1": "a-long-Passw0rd!",
        "password2": "a-long-Passw0rd!",
        "keypairs-TOTAL_FORMS": "0",
        "keypairs-INITIAL_FORMS": "0",
        "keypairs-MIN_NUM_FORMS": "0",
        "keypairs-MAX_NUM_FORMS": "1000",
    }
    form.update(overrides)
    return form


class TestDomainAdminGrants:
    def test_offers_roles_up_to_its_own_and_no_global_monitor_switch(
        self, tenants: dict[str, Any]
    ) -> None:
        response = logged_in(tenants["admin"]).get("/admin/accounts/user/add/")
        change = logged_in(tenants["admin"]).get(
            f"/admin/accounts/user/{tenants['alpha_user'].pk}/change/"
        )

        body = response.content
        assert b'value="monitor"' in body and b'value="admin"' in body
        assert b'value="superadmin"' not in body
        assert b"monitors_all_domains" not in change.content

    def test_creates_a_monitor_of_its_own_domain_only(self, tenants: dict[str, Any]) -> None:
        response = logged_in(tenants["admin"]).post(
            "/admin/accounts/user/add/",
            add_user_form(tenants, role=UserRole.MONITOR, monitors_all_domains="on"),
        )

        assert response.status_code == 302, response.content[:2000]
        monitor = User.objects.get(email="new@alpha.test")
        assert (monitor.role, monitor.domain_id) == (UserRole.MONITOR, tenants["alpha"].pk)
        assert monitor.monitors_all_domains is False
        beta_session = SessionFactory.create(domain=tenants["beta"], status=SessionStatus.RUNNING)
        alpha_session = SessionFactory.create(domain=tenants["alpha"], status=SessionStatus.RUNNING)
        watched = set(sessions_for(monitor, SessionAction.VIEW).values_list("pk", flat=True))
        assert watched == {alpha_session.pk}
        assert beta_session.pk not in watched

    def test_cannot_create_a_superadmin(self, tenants: dict[str, Any]) -> None:
        response = logged_in(tenants["admin"]).post(
            "/admin/accounts/user/add/", add_user_form(tenants, role=UserRole.SUPERADMIN)
        )

        assert response.status_code == 200  # the form again, with the error
        assert b"Select a valid choice" in response.content
        assert not User.objects.filter(email="new@alpha.test").exists()

    def test_cannot_create_a_user_in_another_domain(self, tenants: dict[str, Any]) -> None:
        response = logged_in(tenants["admin"]).post(
            "/admin/accounts/user/add/", add_user_form(tenants, domain=tenants["beta"].pk)
        )

        assert b"Select a valid choice" in response.content
        assert not User.objects.filter(email="new@alpha.test").exists()

    def test_cannot_promote_a_user_to_superadmin(self, tenants: dict[str, Any]) -> None:
        target = tenants["alpha_user"]
        form = {
            "email": target.email,
            "username": target.username,
            "role": UserRole.SUPERADMIN,
            "status": "active",
            "domain": tenants["alpha"].pk,
            "resource_policy": target.resource_policy_id,
            "keypairs-TOTAL_FORMS": "0",
            "keypairs-INITIAL_FORMS": "0",
            "keypairs-MIN_NUM_FORMS": "0",
            "keypairs-MAX_NUM_FORMS": "1000",
        }

        client = logged_in(tenants["admin"])
        refused = client.post(f"/admin/accounts/user/{target.pk}/change/", form)
        allowed = client.post(
            f"/admin/accounts/user/{target.pk}/change/", {**form, "role": UserRole.MONITOR}
        )

        target.refresh_from_db()
        assert b"Select a valid choice" in refused.content
        assert allowed.status_code == 302
        assert target.role == UserRole.MONITOR

    def test_never_reaches_a_superadmin_filed_under_its_domain(
        self, tenants: dict[str, Any]
    ) -> None:
        root = tenants["root_in_alpha"]
        root_key = keypair_issue(user=root).keypair
        client = logged_in(tenants["admin"])

        users = client.get("/admin/accounts/user/")
        keys = client.get("/admin/accounts/keypair/")
        client.post(
            "/admin/accounts/user/",
            {"action": "deactivate_users", "_selected_action": [str(root.pk)]},
        )
        client.post(
            "/admin/accounts/keypair/",
            {"action": "revoke_keypairs", "_selected_action": [root_key.pk]},
        )

        password = client.post(
            f"/admin/accounts/user/{root.pk}/password/",
            {"password1": "taken-Over-123", "password2": "taken-Over-123"},
        )

        root.refresh_from_db()
        root_key.refresh_from_db()
        assert password.status_code == 404
        assert not root.check_password("taken-Over-123")
        assert b"root@alpha.test" not in users.content
        assert root_key.access_key.encode() not in keys.content
        assert (root.status, root_key.is_active) == ("active", True)

    def test_cannot_raise_its_own_domains_limits(self, tenants: dict[str, Any]) -> None:
        alpha: Domain = tenants["alpha"]

        logged_in(tenants["admin"]).post(
            f"/admin/accounts/domain/{alpha.pk}/change/",
            {
                "name": "alpha",
                "description": "ours",
                "is_active": "on",
                "total_resource_slots": '{"cpu": "9999"}',
                "allowed_vfolder_hosts": "{}",
                "allowed_docker_registries": "[]",
            },
        )

        alpha.refresh_from_db()
        assert alpha.description == "ours"
        assert alpha.total_resource_slots == {}


def membership_form(project: Project, user: User) -> dict[str, Any]:
    return {
        "name": project.name,
        "description": "",
        "is_active": "on",
        "domain": project.domain_id,
        "resource_policy": project.resource_policy_id,
        "total_resource_slots": "{}",
        "allowed_vfolder_hosts": "{}",
        "projectmembership_set-TOTAL_FORMS": "1",
        "projectmembership_set-INITIAL_FORMS": "0",
        "projectmembership_set-MIN_NUM_FORMS": "0",
        "projectmembership_set-MAX_NUM_FORMS": "1000",
        "projectmembership_set-0-user": str(user.pk),
        "projectmembership_set-0-project": str(project.pk),
    }


class TestDomainAdminPicksOnlyItsDomain:
    def test_membership_inline_refuses_another_domains_user(self, tenants: dict[str, Any]) -> None:
        project = tenants["project"]

        response = logged_in(tenants["admin"]).post(
            f"/admin/accounts/project/{project.pk}/change/",
            membership_form(project, tenants["beta_user"]),
        )

        assert b"Select a valid choice" in response.content
        assert not ProjectMembership.objects.filter(project=project).exists()

    def test_membership_inline_adds_its_own_domains_user(self, tenants: dict[str, Any]) -> None:
        project = tenants["project"]

        response = logged_in(tenants["admin"]).post(
            f"/admin/accounts/project/{project.pk}/change/",
            membership_form(project, tenants["alpha_user"]),
        )

        assert response.status_code == 302, response.content[:2000]
        assert ProjectMembership.objects.filter(
            project=project, user=tenants["alpha_user"]
        ).exists()

    def test_user_autocomplete_offers_its_domain_only(self, tenants: dict[str, Any]) -> None:
        response = logged_in(tenants["admin"]).get(
            "/admin/autocomplete/",
            {
                "app_label": "accounts",
                "model_name": "projectmembership",
                "field_name": "user",
                "term": "user@",
            },
        )

        assert response.status_code == 200
        offered = {item["text"] for item in response.json()["results"]}
        assert offered == {"user@alpha.test"}

    def test_raw_id_lookup_lists_its_domain_only(self, tenants: dict[str, Any]) -> None:
        response = logged_in(tenants["admin"]).get(
            "/admin/accounts/user/", {"_to_field": "id", "_popup": "1"}
        )

        assert response.status_code == 200
        assert b"user@alpha.test" in response.content
        assert b"user@beta.test" not in response.content
        assert b"root@alpha.test" not in response.content


class TestSuperadminGrants:
    def test_makes_a_global_monitor(self, tenants: dict[str, Any]) -> None:
        client = logged_in(tenants["root_in_alpha"])

        form_page = client.get("/admin/accounts/user/add/")
        response = client.post(
            "/admin/accounts/user/add/", add_user_form(tenants, role=UserRole.MONITOR)
        )
        monitor = User.objects.get(email="new@alpha.test")
        change = client.post(
            f"/admin/accounts/user/{monitor.pk}/change/",
            {
                "email": monitor.email,
                "username": monitor.username,
                "role": UserRole.MONITOR,
                "monitors_all_domains": "on",
                "status": "active",
                "domain": tenants["alpha"].pk,
                "resource_policy": monitor.resource_policy_id,
                "keypairs-TOTAL_FORMS": "0",
                "keypairs-INITIAL_FORMS": "0",
                "keypairs-MIN_NUM_FORMS": "0",
                "keypairs-MAX_NUM_FORMS": "1000",
            },
        )

        monitor.refresh_from_db()
        assert b'value="superadmin"' in form_page.content
        assert (response.status_code, change.status_code) == (302, 302)
        assert monitor.monitors_all_domains is True
