"""An unreachable database answers 503 `database-unavailable` with `Retry-After`, never a 500;
a query that failed on a working database stays a 500. The real outage (a PostgreSQL killed
under a live server) is tests/integration/faults/test_postgres_restart.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import OperationalError
from django.test import Client

from backendai_site.common.api import exception_handler
from tests.helpers.credentials import Credentials

pytestmark = pytest.mark.django_db


def _raiser(cause: Exception) -> Callable[..., Any]:
    def boom(*args: Any, **kwargs: Any) -> Any:
        try:
            raise cause
        except Exception as exc:
            raise OperationalError(str(exc)) from exc

    return boom


class TestDatabaseUnavailable:
    def test_connection_failure_in_a_view_is_503(
        self,
        monkeypatch: pytest.MonkeyPatch,
        signed_get: Callable[..., Any],
        user_credentials: Credentials,
    ) -> None:
        refused = psycopg.OperationalError("connection refused")
        monkeypatch.setattr("backendai_site.manager.api.views.announcement_get", _raiser(refused))

        response = signed_get(user_credentials, "/manager/announcement")

        assert response.status_code == 503
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("/database-unavailable")
        assert int(response["Retry-After"]) >= 1

    def test_failed_query_on_a_working_database_stays_500(
        self,
        monkeypatch: pytest.MonkeyPatch,
        signed_get: Callable[..., Any],
        user_credentials: Credentials,
    ) -> None:
        lock_timeout = psycopg.errors.LockNotAvailable("could not obtain lock")
        monkeypatch.setattr(
            "backendai_site.manager.api.views.announcement_get", _raiser(lock_timeout)
        )

        response = signed_get(user_credentials, "/manager/announcement")

        assert response.status_code == 500
        assert response.json()["type"].endswith("/internal-server-error")
        assert "Retry-After" not in response

    def test_failure_outside_a_view_asks_the_database(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A middleware's error reaches handler500 without the exception under ASGI."""
        monkeypatch.setattr(exception_handler, "database_answers", lambda: False)

        response = exception_handler.handler500(Client().get("/").wsgi_request)

        assert response.status_code == 503
        assert response["Retry-After"] == "5"
