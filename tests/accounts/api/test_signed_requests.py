from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserStatus
from backendai_site.accounts.services import keypair_revoke, user_set_status
from tests.helpers.credentials import Credentials, make_credentials, signed_headers

pytestmark = pytest.mark.django_db


def assert_problem(response: Any, status: int, error_type: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"https://api.backend.ai/probs/{error_type}"
    assert body["title"]
    assert body["msg"]


class TestSignedRequestAccepted:
    def test_valid_signature_is_authorized(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        response = signed_get(user_credentials, "/auth?echo=hello%20world&x=1")

        assert response.status_code == 200
        assert response.json() == {"authorized": "yes", "echo": "hello world"}

    def test_sorna_prefix(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        response = signed_get(user_credentials, "/auth?echo=x", prefix="Sorna")

        assert response.status_code == 200

    def test_missing_content_type_is_signed_as_octet_stream(
        self, client: Client, user_credentials: Credentials
    ) -> None:
        headers = signed_headers(
            access_key=user_credentials.access_key,
            secret_key=user_credentials.secret_key,
            method="GET",
            rel_url="/auth",
            content_type="application/octet-stream",
        )
        del headers["CONTENT_TYPE"]

        response = client.get("/auth", **headers)

        assert response.status_code == 200

    def test_date_falls_back_to_x_backendai_date(
        self, client: Client, user_credentials: Credentials
    ) -> None:
        headers = signed_headers(
            access_key=user_credentials.access_key,
            secret_key=user_credentials.secret_key,
            method="GET",
            rel_url="/auth",
        )
        headers["HTTP_X_BACKENDAI_DATE"] = headers.pop("HTTP_DATE")

        response = client.get("/auth", **headers)

        assert response.status_code == 200

    def test_use_is_recorded_on_the_keypair(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        signed_get(user_credentials, "/auth")

        user_credentials.keypair.refresh_from_db()
        assert user_credentials.keypair.last_used is not None
        assert user_credentials.keypair.num_queries == 1


class TestSignedRequestRejected:
    def test_wrong_secret(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        response = signed_get(user_credentials, "/auth", secret_key="x" * 40)

        assert_problem(response, 401, "auth-failed")

    def test_skewed_date(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        response = signed_get(
            user_credentials, "/auth", date=datetime.now(UTC) - timedelta(minutes=16)
        )

        assert_problem(response, 401, "clock-skew")

    def test_wrong_host(self, client: Client, user_credentials: Credentials) -> None:
        headers = signed_headers(
            access_key=user_credentials.access_key,
            secret_key=user_credentials.secret_key,
            method="GET",
            rel_url="/auth",
            host="127.0.0.1:9999",
        )
        headers["HTTP_HOST"] = "127.0.0.1:8091"

        response = client.get("/auth", **headers)

        assert_problem(response, 401, "auth-failed")

    def test_tampered_query(self, client: Client, user_credentials: Credentials) -> None:
        headers = signed_headers(
            access_key=user_credentials.access_key,
            secret_key=user_credentials.secret_key,
            method="GET",
            rel_url="/auth?echo=a",
        )

        response = client.get("/auth?echo=b", **headers)

        assert_problem(response, 401, "auth-failed")

    def test_unknown_access_key(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        response = signed_get(user_credentials, "/auth", access_key="AKIANOTAREALKEY00000")

        assert_problem(response, 401, "auth-failed")

    def test_revoked_keypair(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        keypair_revoke(keypair=user_credentials.keypair)

        response = signed_get(user_credentials, "/auth")

        assert_problem(response, 401, "auth-failed")

    def test_inactive_user(
        self, signed_get: Callable[..., Any], user_credentials: Credentials
    ) -> None:
        user_set_status(user=user_credentials.user, status=UserStatus.INACTIVE)

        response = signed_get(user_credentials, "/auth")

        assert_problem(response, 401, "auth-failed")

    def test_missing_version_header(self, client: Client, user_credentials: Credentials) -> None:
        headers = signed_headers(
            access_key=user_credentials.access_key,
            secret_key=user_credentials.secret_key,
            method="GET",
            rel_url="/auth",
        )
        del headers["HTTP_X_BACKENDAI_VERSION"]

        response = client.get("/auth", **headers)

        assert_problem(response, 401, "invalid-auth-params")

    @pytest.mark.parametrize(
        "authorization",
        ["garbage", "BackendAI credential=AK", "BackendAI signMethod=HMAC-SHA256, credential=x"],
    )
    def test_malformed_authorization(
        self, client: Client, user_credentials: Credentials, authorization: str
    ) -> None:
        headers = signed_headers(
            access_key=user_credentials.access_key,
            secret_key=user_credentials.secret_key,
            method="GET",
            rel_url="/auth",
        )
        headers["HTTP_AUTHORIZATION"] = authorization

        response = client.get("/auth", **headers)

        assert_problem(response, 401, "invalid-auth-params")

    def test_malformed_date(self, client: Client, user_credentials: Credentials) -> None:
        headers = signed_headers(
            access_key=user_credentials.access_key,
            secret_key=user_credentials.secret_key,
            method="GET",
            rel_url="/auth",
        )
        headers["HTTP_DATE"] = "yesterday-ish"

        response = client.get("/auth", **headers)

        assert_problem(response, 401, "invalid-auth-params")

    def test_unsigned_request_to_signed_endpoint(self, client: Client) -> None:
        response = client.get("/auth")

        assert_problem(response, 401, "auth-failed")


class TestRateLimit:
    def test_requests_past_the_limit_get_429_with_headers(
        self, signed_get: Callable[..., Any]
    ) -> None:
        creds = make_credentials()
        creds.keypair.rate_limit = 3
        creds.keypair.save(update_fields=["rate_limit"])

        responses = [signed_get(creds, "/auth") for _ in range(4)]

        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert responses[0]["X-RateLimit-Limit"] == "3"
        assert responses[0]["X-RateLimit-Remaining"] == "2"
        assert responses[2]["X-RateLimit-Remaining"] == "0"
        assert responses[0]["X-RateLimit-Window"] == "900"
        assert_problem(responses[3], 429, "too-many-requests")
        assert responses[3]["X-RateLimit-Remaining"] == "0"

    def test_limits_are_per_keypair(self, signed_get: Callable[..., Any]) -> None:
        limited = make_credentials()
        limited.keypair.rate_limit = 1
        limited.keypair.save(update_fields=["rate_limit"])
        other = make_credentials()

        signed_get(limited, "/auth")
        blocked = signed_get(limited, "/auth")
        allowed = signed_get(other, "/auth")

        assert (blocked.status_code, allowed.status_code) == (429, 200)
