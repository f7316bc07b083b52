"""`POST /auth/update-password-no-auth`: unsigned, throttled with the API logins."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backendai_site.config import get_config
from tests.factories.world import ComputeWorld
from tests.helpers.api import problem_type

pytestmark = pytest.mark.django_db

URL = "/auth/update-password-no-auth"


def change(client: Client, email: str, current: str, new: str, domain: str = "default") -> Any:
    body = {"domain": domain, "username": email, "current_password": current, "new_password": new}
    return client.post(URL, data=body, content_type="application/json")


class TestUpdatePasswordNoAuth:
    def test_changes_the_password_and_clears_the_expiry(
        self, client: Client, world: ComputeWorld
    ) -> None:
        user = world.user.user
        user.need_password_change = True
        user.save()

        response = change(client, user.email, "pw-123456", "new-pw-12345")

        assert response.status_code == 200
        assert "password_changed_at" in response.json()
        user.refresh_from_db()
        assert user.check_password("new-pw-12345") and not user.need_password_change

    @pytest.mark.parametrize(
        ("current", "new", "slug"),
        [("pw-123456", "pw-123456", "invalid-api-params"),
         ("pw-123456", "short", "invalid-api-params"),
         ("wrong-pw", "new-pw-12345", "login-failed")],
    )  # fmt: skip
    def test_bad_input(
        self, client: Client, world: ComputeWorld, current: str, new: str, slug: str
    ) -> None:
        response = change(client, world.user.user.email, current, new)

        assert problem_type(response) == slug
        assert world.user.user.check_password("pw-123456")

    def test_failures_share_the_login_throttle(
        self, client: Client, world: ComputeWorld, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_config(), "login_max_failures", 2)
        email = world.user.user.email
        for _ in range(2):
            change(client, email, "wrong-pw", "new-pw-12345")

        login = client.post(
            "/auth/authorize",
            data={"domain": "default", "username": email, "password": "pw-123456"},
            content_type="application/json",
        )
        again = change(client, email, "pw-123456", "new-pw-12345")

        assert login.status_code == 429 and again.status_code == 429
        assert problem_type(again) == "too-many-login-failures"

    def test_missing_fields_are_400(self, client: Client, world: ComputeWorld) -> None:
        response = client.post(URL, data={"domain": "default"}, content_type="application/json")

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"
