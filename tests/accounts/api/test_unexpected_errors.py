"""An unexpected exception on an API path still answers problem+json (never an HTML page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.helpers.credentials import Credentials, signed_headers

pytestmark = pytest.mark.django_db


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("unexpected")


class TestUnexpectedErrors:
    def test_drf_view(
        self,
        monkeypatch: pytest.MonkeyPatch,
        signed_get: Callable[..., Any],
        user_credentials: Credentials,
    ) -> None:
        monkeypatch.setattr("backendai_site.manager.api.views.announcement_get", _boom)

        response = signed_get(user_credentials, "/manager/announcement")

        assert response.status_code == 500
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("/internal-server-error")

    def test_async_view(
        self, monkeypatch: pytest.MonkeyPatch, user_credentials: Credentials
    ) -> None:
        monkeypatch.setattr("sessions_app.api.streams.session_enqueue", _boom)
        client = Client(raise_request_exception=False)
        headers = signed_headers(
            access_key=user_credentials.access_key,
            secret_key=user_credentials.secret_key,
            method="POST",
            rel_url="/session",
            content_type="application/json",
        )

        response = client.post(
            "/session", data={"image": "python"}, content_type="application/json", **headers
        )

        assert response.status_code == 500
        assert response.json()["type"].endswith("/internal-server-error")
