"""Password logins are throttled per account and client address together (django-axes for the
admin and console logins, Redis counters for `/auth/authorize`), and every 429 says when to
come back (`Retry-After`)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.services import default_tenancy_ensure, keypair_issue, user_create

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass!"
WRONG_TRIES = 15


@pytest.fixture
def two_staff_users() -> tuple[str, str]:
    defaults = default_tenancy_ensure()
    emails = ("alice@example.com", "bob@example.com")
    for email in emails:
        user = user_create(
            email=email, password=PASSWORD, domain=defaults.domain, role=UserRole.SUPERADMIN
        )
        keypair_issue(user=user)
    return emails


def _form_login(client: Client, path: str, email: str, password: str, addr: str) -> Any:
    page = client.get(path, REMOTE_ADDR=addr)
    assert page.status_code == 200
    return client.post(
        path,
        {"username": email, "password": password, "next": "/admin/"},
        REMOTE_ADDR=addr,
    )


def _logged_in(response: Any) -> bool:
    return response.status_code == 302


class TestFormLoginLockout:
    @pytest.mark.parametrize("path", ["/admin/login/", "/console/login"])
    def test_right_password_is_refused_after_repeated_failures(
        self, two_staff_users: tuple[str, str], path: str
    ) -> None:
        alice, _ = two_staff_users
        client = Client(enforce_csrf_checks=False)
        for _ in range(WRONG_TRIES):
            assert not _logged_in(_form_login(client, path, alice, "wrong", "10.0.0.1"))

        response = _form_login(client, path, alice, PASSWORD, "10.0.0.1")

        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0

    @pytest.mark.parametrize("path", ["/admin/login/", "/console/login"])
    def test_other_account_and_other_address_still_log_in(
        self, two_staff_users: tuple[str, str], path: str
    ) -> None:
        alice, bob = two_staff_users
        for _ in range(WRONG_TRIES):
            _form_login(Client(), path, alice, "wrong", "10.0.0.1")

        assert _logged_in(_form_login(Client(), path, bob, PASSWORD, "10.0.0.1"))
        assert _logged_in(_form_login(Client(), path, alice, PASSWORD, "10.0.0.2"))


def _authorize(client: Client, email: str, password: str, addr: str) -> Any:
    return client.post(
        "/auth/authorize",
        data={"domain": "default", "username": email, "password": password},
        content_type="application/json",
        REMOTE_ADDR=addr,
    )


class TestAuthorizeLockout:
    def test_right_password_is_refused_after_repeated_failures(
        self, client: Client, two_staff_users: tuple[str, str]
    ) -> None:
        alice, _ = two_staff_users
        for _ in range(WRONG_TRIES):
            _authorize(client, alice, "wrong", "10.0.0.1")

        response = _authorize(client, alice, PASSWORD, "10.0.0.1")

        assert response.status_code == 429
        assert response.json()["type"].endswith("/too-many-login-failures")
        assert 0 < int(response["Retry-After"]) <= 900

    def test_other_account_and_other_address_still_log_in(
        self, client: Client, two_staff_users: tuple[str, str]
    ) -> None:
        alice, bob = two_staff_users
        for _ in range(WRONG_TRIES):
            _authorize(client, alice, "wrong", "10.0.0.1")

        assert _authorize(client, bob, PASSWORD, "10.0.0.1").status_code == 200
        assert _authorize(client, alice, PASSWORD, "10.0.0.2").status_code == 200
