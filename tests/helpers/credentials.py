"""Credentials of test users and request signing as the official client does it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backendai_site.accounts.auth.signing import sign_request
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, User
from backendai_site.accounts.services import keypair_issue
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


def make_credentials(role: UserRole = UserRole.USER, **user_fields: Any) -> Credentials:
    KeypairResourcePolicyFactory.create()
    user = UserFactory.create(role=role, **user_fields)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


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
) -> dict[str, Any]:
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
