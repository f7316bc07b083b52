from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from backendai_site.accounts.services import default_tenancy_ensure, user_create
from tests.helpers.credentials import Credentials

pytestmark = pytest.mark.django_db


class TestVersionProbe:
    @pytest.mark.parametrize("path", ["/", "/func/"])
    def test_unsigned_probe_returns_the_client_version(self, client: Client, path: str) -> None:
        response = client.get(path)

        assert response.status_code == 200
        assert response.json() == {"version": "v9.20250722", "manager": "0.1.0"}


class TestAnnouncement:
    def test_disabled_by_default(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        response = signed_get(user_credentials, "/manager/announcement")

        assert response.json() == {"enabled": False, "message": ""}


class TestErrorBodies:
    def test_unknown_path_is_json_404(self, client: Client) -> None:
        response = client.get("/no/such/path")

        assert response.status_code == 404
        assert response.json()["type"].endswith("/not-found")

    def test_trailing_slash_is_not_redirected(self, client: Client) -> None:
        response = client.get("/auth/")

        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/problem+json")

    def test_wrong_method_is_json_405(self, client: Client, user_credentials: Credentials) -> None:
        response = client.delete("/")

        assert response.status_code == 405
        assert response.json()["type"].endswith("/method-not-allowed")

    def test_graphql_path_under_the_admin_prefix_is_json(
        self, client: Client, user_credentials: Credentials
    ) -> None:
        response = client.post("/admin/gql", data={}, content_type="application/json")

        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/problem+json")


@pytest.fixture
def login_user() -> tuple[str, str]:
    defaults = default_tenancy_ensure()
    user = user_create(email="alice@example.com", password="s3cret-pass!", domain=defaults.domain)
    from backendai_site.accounts.services import keypair_issue

    keypair_issue(user=user)
    return "alice@example.com", "s3cret-pass!"


class TestAuthorize:
    def test_password_login_returns_the_keypair(
        self, client: Client, login_user: tuple[str, str]
    ) -> None:
        email, password = login_user

        response = client.post(
            "/auth/authorize",
            data={"type": "keypair", "domain": "default", "username": email, "password": password},
            content_type="application/json",
        )

        assert response.status_code == 200
        data = response.json()["data"]
        assert data["access_key"].startswith("AKIA") and len(data["access_key"]) == 20
        assert len(data["secret_key"]) == 40
        assert (data["role"], data["status"]) == ("user", "active")

    def test_wrong_password_is_401(self, client: Client, login_user: tuple[str, str]) -> None:
        email, _ = login_user

        response = client.post(
            "/auth/authorize",
            data={"domain": "default", "username": email, "password": "nope"},
            content_type="application/json",
        )

        assert response.status_code == 401
        assert response.json()["type"].endswith("/login-failed")

    def test_missing_fields_are_400_with_field_data(self, client: Client) -> None:
        response = client.post("/auth/authorize", data={}, content_type="application/json")

        assert response.status_code == 400
        body = response.json()
        assert body["type"].endswith("/invalid-api-params")
        assert set(body["data"]) >= {"domain", "username", "password"}

    def test_malformed_json_is_400(self, client: Client) -> None:
        response = client.post("/auth/authorize", data="{nope", content_type="application/json")

        assert response.status_code == 400
        assert response.json()["type"].endswith("/invalid-api-params")

    def test_repeated_failures_are_throttled(
        self, client: Client, login_user: tuple[str, str], settings: Any
    ) -> None:
        email, password = login_user
        bad = {"domain": "default", "username": email, "password": "wrong"}
        for _ in range(10):
            client.post("/auth/authorize", data=bad, content_type="application/json")

        response = client.post(
            "/auth/authorize",
            data={"domain": "default", "username": email, "password": password},
            content_type="application/json",
        )

        assert response.status_code == 429
        assert response.json()["type"].endswith("/too-many-login-failures")


class TestOpenAPI:
    def test_schema_lists_the_endpoints(self, client: Client) -> None:
        response = client.get("/api/schema?format=json")

        assert response.status_code == 200
        paths = response.json()["paths"]
        assert {"/", "/auth", "/auth/authorize", "/manager/announcement"} <= set(paths)
        assert {"post", "get"} <= set(paths["/session"])
        assert "SessionCreateRequest" in response.json()["components"]["schemas"]
        assert "/events/session" in paths and "/session/{ref}" in paths

    def test_docs_page_is_served_without_a_cdn(self, client: Client) -> None:
        response = client.get("/api/docs")

        assert response.status_code == 200
        assert b"swagger-ui" in response.content
        assert b"cdn.jsdelivr" not in response.content


class TestAdminConsole:
    def test_login_page_renders(self, client: Client) -> None:
        response = client.get("/admin/login/")

        assert response.status_code == 200
        assert b"password" in response.content
