"""The buttons on a user's admin page: keypairs, passwords and links; scoped, refused, audited."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, User
from backendai_site.accounts.services import keypair_issue
from backendai_site.audit.models import AuditLogEntry
from tests.factories.accounts import DomainFactory, KeypairResourcePolicyFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "/admin/accounts/user"
CONFIRM = {"_form_submitted": "on"}
CHANGES = ("issue_keypair", "revoke_keypair", "change_password", "temporary_password")
LINKS = ("user_sessions", "user_folders", "user_usage")


@pytest.fixture
def people() -> dict[str, User]:
    KeypairResourcePolicyFactory.create()
    alpha, beta = DomainFactory.create(name="alpha"), DomainFactory.create(name="beta")
    return {
        "root": UserFactory.create(email="root@beta.test", domain=beta, role=UserRole.SUPERADMIN),
        "alpha_admin": UserFactory.create(
            email="admin@alpha.test", domain=alpha, role=UserRole.ADMIN
        ),
        "alpha_user": UserFactory.create(email="user@alpha.test", domain=alpha),
        "beta_user": UserFactory.create(email="user@beta.test", domain=beta),
        "alpha_monitor": UserFactory.create(
            email="monitor@alpha.test", domain=alpha, role=UserRole.MONITOR
        ),
    }


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown(page: bytes, target: User, names: tuple[str, ...]) -> set[str]:
    return {name for name in names if f"{BASE}/{target.pk}/{name}/".encode() in page}


class TestUserPageButtons:
    def test_a_superadmin_sees_all(self, people: dict[str, User]) -> None:
        target = people["alpha_user"]

        page = logged_in(people["root"]).get(f"{BASE}/{target.pk}/change/").content

        assert shown(page, target, CHANGES + LINKS) == set(CHANGES + LINKS)

    def test_a_domain_admin_sees_the_changes_and_the_links(self, people: dict[str, User]) -> None:
        target = people["alpha_user"]

        page = logged_in(people["alpha_admin"]).get(f"{BASE}/{target.pk}/change/").content

        # its role opens its domain's sessions, folders and usage
        assert shown(page, target, CHANGES + LINKS) == set(CHANGES + LINKS)

    def test_a_monitor_sees_no_change_button(self, people: dict[str, User]) -> None:
        target = people["alpha_user"]

        page = logged_in(people["alpha_monitor"]).get(f"{BASE}/{target.pk}/change/")

        assert page.status_code == 200
        assert shown(page.content, target, CHANGES) == set()


class TestUserActions:
    def test_issue_shows_the_secret_once_and_is_audited(self, people: dict[str, User]) -> None:
        target = people["alpha_user"]
        client = logged_in(people["alpha_admin"])

        response = client.post(f"{BASE}/{target.pk}/issue_keypair/", CONFIRM)

        keypair = KeyPair.objects.get(user=target)
        notes = [str(m) for m in get_messages(response.wsgi_request)]
        assert any(keypair.access_key in note and "secret key" in note for note in notes)
        entry = AuditLogEntry.objects.get(action="admin:accounts_user_issue_keypair")
        assert (entry.target_type, entry.target_id) == ("accounts.user", str(target.pk))

    def test_revoke_takes_only_the_users_own_keypair(self, people: dict[str, User]) -> None:
        target = people["alpha_user"]
        own = keypair_issue(user=target).keypair
        other = keypair_issue(user=people["beta_user"]).keypair
        client = logged_in(people["root"])

        wrong = client.post(f"{BASE}/{target.pk}/revoke_keypair/", {**CONFIRM, "keypair": other.pk})
        right = client.post(f"{BASE}/{target.pk}/revoke_keypair/", {**CONFIRM, "keypair": own.pk})

        assert (wrong.status_code, right.status_code) == (200, 302)  # the dialog, then done
        assert KeyPair.objects.get(pk=other.pk).is_active is True
        assert KeyPair.objects.get(pk=own.pk).is_active is False

    def test_temporary_password_works_once_shown(self, people: dict[str, User]) -> None:
        target = people["alpha_user"]

        response = logged_in(people["alpha_admin"]).post(
            f"{BASE}/{target.pk}/temporary_password/", CONFIRM
        )

        note = next(str(m) for m in get_messages(response.wsgi_request))
        password = note.split(": ", 1)[1].split(" ", 1)[0]
        target.refresh_from_db()
        assert target.check_password(password)
        assert target.need_password_change is True
        assert AuditLogEntry.objects.filter(
            action="admin:accounts_user_temporary_password", target_id=str(target.pk)
        ).exists()

    def test_links_lead_to_filtered_lists(self, people: dict[str, User]) -> None:
        target = people["alpha_user"]
        client = logged_in(people["root"])

        sessions = client.get(f"{BASE}/{target.pk}/user_sessions/")
        usage = client.get(f"{BASE}/{target.pk}/user_usage/")
        password = client.get(f"{BASE}/{target.pk}/change_password/")

        assert client.get(sessions["Location"]).status_code == 200
        assert client.get(usage["Location"]).status_code == 200
        assert "user_email=user%40alpha.test" in usage["Location"]
        assert password["Location"] == f"{BASE}/{target.pk}/password/"


class TestUserActionsRefused:
    def test_a_domain_admin_cannot_act_on_another_domain(self, people: dict[str, User]) -> None:
        target = people["beta_user"]
        client = logged_in(people["alpha_admin"])

        issue = client.post(f"{BASE}/{target.pk}/issue_keypair/", CONFIRM)
        reset = client.post(f"{BASE}/{target.pk}/temporary_password/", CONFIRM)

        assert (issue.status_code, reset.status_code) == (403, 403)
        assert not KeyPair.objects.filter(user=target).exists()

    def test_a_domain_admin_cannot_reach_a_superadmin(self, people: dict[str, User]) -> None:
        people["root"].domain = people["alpha_admin"].domain
        people["root"].save()

        response = logged_in(people["alpha_admin"]).post(
            f"{BASE}/{people['root'].pk}/temporary_password/", CONFIRM
        )

        assert response.status_code == 403

    def test_a_monitors_forged_post_is_refused(self, people: dict[str, User]) -> None:
        target = people["alpha_user"]

        response = logged_in(people["alpha_monitor"]).post(
            f"{BASE}/{target.pk}/issue_keypair/", CONFIRM
        )

        assert response.status_code == 403
        assert not KeyPair.objects.filter(user=target).exists()
