"""Shared fixtures: tenancy scenarios, signed requests, Redis isolation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from backendai_site.accounts.auth.signing import sign_request
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, User
from backendai_site.accounts.services import keypair_issue
from backendai_site.common.redis import get_redis
from backendai_site.config import API_VERSION
from tests.factories.accounts import KeypairResourcePolicyFactory, UserFactory

TEST_HOST = "127.0.0.1:8091"


@dataclass(frozen=True)
class Credentials:
    user: User
    keypair: KeyPair
    secret_key: str

    @property
    def access_key(self) -> str:
        return self.keypair.access_key


@pytest.fixture(autouse=True)
def _isolated_redis_state() -> Iterator[None]:
    """Forget rate-limit and login counters between tests."""
    client = get_redis()
    for pattern in ("bai:ratelimit:*", "bai:loginfail:*", "bai:lastused:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    yield


def make_credentials(role: UserRole = UserRole.USER, **user_fields: Any) -> Credentials:
    KeypairResourcePolicyFactory()
    user = UserFactory(role=role, **user_fields)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


@pytest.fixture
def user_credentials(db: None) -> Credentials:
    return make_credentials()


SignedCall = Callable[..., Any]


def signed_headers(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    rel_url: str,
    content_type: str = "text/plain",
    host: str = TEST_HOST,
    date: datetime | None = None,
    version: str = API_VERSION,
    prefix: str = "BackendAI",
) -> dict[str, str]:
    """Django test-client META for a request signed like the official client signs it."""
    date = date or datetime.now(UTC)
    raw_date = date.isoformat()
    signature = sign_request(
        secret_key=secret_key,
        method=method,
        rel_url=rel_url,
        raw_date=raw_date,
        request_date=date,
        host=host,
        content_type=content_type,
        api_version=version,
    )
    return {
        "HTTP_HOST": host,
        "HTTP_DATE": raw_date,
        "HTTP_X_BACKENDAI_VERSION": version,
        "HTTP_AUTHORIZATION": (
            f"{prefix} signMethod=HMAC-SHA256, credential={access_key}:{signature}"
        ),
        "CONTENT_TYPE": content_type,
    }


@pytest.fixture
def signed_get(client: Client) -> Callable[..., Any]:
    """GET `rel_url` signed with the given credentials (extra kwargs override signing inputs)."""

    def call(creds: Credentials, rel_url: str, **overrides: Any) -> Any:
        sign_args: dict[str, Any] = {
            "access_key": creds.access_key,
            "secret_key": creds.secret_key,
            "method": "GET",
            "rel_url": rel_url,
        }
        sign_args.update(overrides)
        return client.get(rel_url, **signed_headers(**sign_args))

    return call
