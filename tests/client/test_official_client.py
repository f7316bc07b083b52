"""The official `backend.ai` CLI (backend.ai-client 26.9.6) against the live ASGI server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers.credentials import Credentials, make_credentials

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cli_user() -> Credentials:
    return make_credentials()


class TestOfficialClientConfig:
    def test_config_prints_our_version(
        self, run_cli: Callable[..., Any], cli_user: Credentials
    ) -> None:
        result = run_cli(cli_user, "config")

        assert result.returncode == 0, result.stderr
        assert "Server version: 0.1.0 (API: v9.20250722)" in result.stdout
        assert "Negotiated API version: (9, '20250722')" in result.stdout

    def test_wrong_secret_is_reported_as_an_auth_error(
        self, run_cli: Callable[..., Any], cli_user: Credentials
    ) -> None:
        forged = Credentials(user=cli_user.user, keypair=cli_user.keypair, secret_key="x" * 40)

        result = run_cli(forged, "config")

        # `config` does not catch API errors itself; the server's problem body must still reach it
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "401" in output
        assert "Credential/signature mismatch" in output
