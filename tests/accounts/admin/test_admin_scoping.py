from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, User
from backendai_site.accounts.services import keypair_issue
from tests.factories.accounts import (
    DomainFactory,
    KeypairResourcePolicyFactory,
    ProjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_domains() -> dict[str, User]:
    KeypairResourcePolicyFactory.create()
    alpha, beta = DomainFactory.create(name="alpha"), DomainFactory.create(name="beta")
    return {
        "alpha_admin": UserFactory.create(
            email="admin@alpha.test", domain=alpha, role=UserRole.ADMIN
        ),
        "alpha_user": UserFactory.create(email="user@alpha.test", domain=alpha),
        "beta_user": UserFactory.create(email="user@beta.test", domain=beta),
        "monitor": UserFactory.create(
            email="monitor@beta.test", domain=beta, role=UserRole.MONITOR
        ),
        "global_monitor": UserFactory.create(
            email="watcher@beta.test",
            domain=beta,
            role=UserRole.MONITOR,
            monitors_all_domains=True,
        ),
        "superadmin": UserFactory.create(
            email="root@beta.test", domain=beta, role=UserRole.SUPERADMIN
        ),
    }


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


class TestDomainAdminScoping:
    def test_user_list_shows_only_own_domain(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["alpha_admin"])

        response = client.get("/admin/accounts/user/")

        assert response.status_code == 200
        assert b"user@alpha.test" in response.content
        assert b"user@beta.test" not in response.content

    def test_other_domains_user_cannot_be_opened(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["alpha_admin"])

        response = client.get(f"/admin/accounts/user/{two_domains['beta_user'].pk}/change/")

        assert response.status_code == 302  # the admin's "object does not exist" redirect
        assert b"user@beta.test" not in response.content

    def test_other_domains_user_cannot_be_changed(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["alpha_admin"])
        target = two_domains["beta_user"]

        client.post(
            "/admin/accounts/user/",
            {"action": "deactivate_users", "_selected_action": [str(target.pk)]},
        )

        target.refresh_from_db()
        assert target.status == "active"

    def test_project_list_is_scoped(self, two_domains: dict[str, User]) -> None:
        ProjectFactory.create(name="alpha-proj", domain=two_domains["alpha_user"].domain)
        ProjectFactory.create(name="beta-proj", domain=two_domains["beta_user"].domain)
        client = logged_in(two_domains["alpha_admin"])

        response = client.get("/admin/accounts/project/")

        assert b"alpha-proj" in response.content
        assert b"beta-proj" not in response.content

    def test_keypair_list_is_scoped(self, two_domains: dict[str, User]) -> None:
        own = keypair_issue(user=two_domains["alpha_user"]).keypair
        foreign = keypair_issue(user=two_domains["beta_user"]).keypair
        client = logged_in(two_domains["alpha_admin"])

        response = client.get("/admin/accounts/keypair/")

        assert own.access_key.encode() in response.content
        assert foreign.access_key.encode() not in response.content

    def test_domain_admin_cannot_create_superadmins(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["alpha_admin"])

        response = client.get("/admin/accounts/user/add/")

        assert response.status_code == 200
        assert b'value="superadmin"' not in response.content
        assert b'value="admin"' in response.content

    def test_domain_admin_sees_accounts_but_not_agents(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["alpha_admin"])

        response = client.get("/admin/")

        assert b"/admin/accounts/user/" in response.content
        assert b"/admin/agents_app/" not in response.content


class TestMonitorIsReadOnly:
    def test_global_monitor_lists_every_domains_users(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["global_monitor"])

        response = client.get("/admin/accounts/user/")

        assert response.status_code == 200
        assert b"user@alpha.test" in response.content
        assert b"user@beta.test" in response.content

    def test_domain_monitor_lists_its_domains_users_only(
        self, two_domains: dict[str, User]
    ) -> None:
        client = logged_in(two_domains["monitor"])

        response = client.get("/admin/accounts/user/")

        assert response.status_code == 200
        assert b"user@beta.test" in response.content
        assert b"user@alpha.test" not in response.content

    def test_monitor_cannot_change(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["monitor"])
        target = two_domains["alpha_user"]

        response = client.post(
            f"/admin/accounts/user/{target.pk}/change/",
            {"email": target.email, "username": "hijacked", "role": "superadmin"},
        )

        target.refresh_from_db()
        assert response.status_code == 403
        assert target.username != "hijacked"

    def test_monitor_cannot_add(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["monitor"])

        response = client.get("/admin/accounts/user/add/")

        assert response.status_code == 403


class TestAdminActions:
    def test_issue_keypair_shows_secret_once(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["superadmin"])
        target = two_domains["alpha_user"]

        response = client.post(
            "/admin/accounts/user/",
            {"action": "issue_keypairs", "_selected_action": [str(target.pk)]},
        )

        keypair = KeyPair.objects.get(user=target)
        shown = [str(m) for m in get_messages(response.wsgi_request)]
        first_page = client.get("/admin/accounts/user/")
        later_page = client.get(f"/admin/accounts/keypair/{keypair.pk}/change/")

        assert any(keypair.access_key in m and "secret key" in m for m in shown)
        secret = shown[0].split("secret key ")[1].split(" ")[0]
        assert len(secret) == 40
        assert secret.encode() in first_page.content
        assert secret.encode() not in later_page.content

    def test_revoke_keypair(self, two_domains: dict[str, User]) -> None:
        keypair = keypair_issue(user=two_domains["alpha_user"]).keypair
        client = logged_in(two_domains["superadmin"])

        client.post(
            "/admin/accounts/keypair/",
            {"action": "revoke_keypairs", "_selected_action": [keypair.pk]},
        )

        keypair.refresh_from_db()
        assert keypair.is_active is False

    def test_deactivate_and_activate_users(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["alpha_admin"])
        target = two_domains["alpha_user"]

        client.post(
            "/admin/accounts/user/",
            {"action": "deactivate_users", "_selected_action": [str(target.pk)]},
        )
        target.refresh_from_db()
        deactivated = target.status
        client.post(
            "/admin/accounts/user/",
            {"action": "activate_users", "_selected_action": [str(target.pk)]},
        )
        target.refresh_from_db()

        assert (deactivated, target.status) == ("inactive", "active")

    def test_plain_user_cannot_log_into_the_console(self, two_domains: dict[str, User]) -> None:
        client = logged_in(two_domains["alpha_user"])

        response = client.get("/admin/accounts/user/")

        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
