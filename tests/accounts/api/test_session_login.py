"""Session-mode login (COMPAT.md 2.8): `/server/login` binds a web session to the user's keypair,
`/func/...` accepts that cookie (with the custom-header CSRF check), `/server/logout` ends it,
`/func/auth/update-password` changes the password, and failures share django-axes' lockout."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.accounts.services import default_tenancy_ensure, keypair_issue, user_create
from backendai_site.accounts.session_login import compat_decrypt_payload

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass!"
EMAIL = "carol@example.com"
HOST = "testserver"
CLIENT_HEADERS: dict[str, Any] = {
    "HTTP_X_BACKENDAI_VERSION": "v9.20250722",
    "HTTP_X_BACKENDAI_DOMAIN": "default",
}


def encrypt_like_the_client(endpoint: str, body: bytes) -> bytes:
    iv = "".join(
        secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop0123") for _ in range(16)
    )
    key = (base64.b64encode(endpoint.encode()) + iv.encode() + iv.encode())[:32]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(body) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv.encode())).encryptor()
    return iv.encode() + b":" + base64.b64encode(encryptor.update(padded) + encryptor.finalize())


@pytest.fixture
def carol() -> User:
    defaults = default_tenancy_ensure()
    user = user_create(email=EMAIL, password=PASSWORD, domain=defaults.domain, role=UserRole.USER)
    keypair_issue(user=user)
    return user


def login(client: Client, password: str = PASSWORD, *, addr: str = "10.0.0.1", **extra: Any) -> Any:
    body = json.dumps({"username": EMAIL, "password": password}).encode()
    return client.post(
        "/server/login",
        data=encrypt_like_the_client(f"http://{HOST}", body),
        content_type="application/octet-stream",
        HTTP_X_BACKENDAI_ENCODED="true",
        REMOTE_ADDR=addr,
        **{**CLIENT_HEADERS, **extra},
    )


class TestPayloadDecoding:
    def test_decrypts_what_the_client_encrypts(self) -> None:
        payload = encrypt_like_the_client("http://127.0.0.1:18090", b'{"a": 1}')

        assert compat_decrypt_payload(endpoint="http://127.0.0.1:18090", payload=payload) == (
            b'{"a": 1}'
        )

    def test_wrong_endpoint_key_fails(self) -> None:
        payload = encrypt_like_the_client("http://127.0.0.1:18090", b'{"a": 1}' * 4)

        with pytest.raises(ValueError):
            compat_decrypt_payload(endpoint="http://127.0.0.1:1", payload=payload)


class TestServerLogin:
    def test_login_opens_the_func_api_and_logout_closes_it(self, carol: User) -> None:
        client = Client()

        response = login(client)
        session_list = client.get("/func/auth?echo=hi", **CLIENT_HEADERS)
        logout = client.post("/server/logout", **CLIENT_HEADERS)
        after = client.get("/func/auth?echo=hi", **CLIENT_HEADERS)

        assert response.status_code == 200
        assert response.json()["authenticated"] is True
        assert "sessionid" in response.cookies
        assert session_list.status_code == 200, session_list.content
        assert session_list.json() == {"authorized": "yes", "echo": "hi"}
        assert logout.status_code == 200
        assert after.status_code == 401

    def test_plain_json_body_is_accepted(self, carol: User) -> None:
        response = Client().post(
            "/server/login",
            data={"username": EMAIL, "password": PASSWORD},
            content_type="application/json",
            **CLIENT_HEADERS,
        )

        assert response.json()["authenticated"] is True

    def test_wrong_password_is_not_authenticated(self, carol: User) -> None:
        client = Client()

        response = login(client, "wrong")

        assert response.status_code == 200
        assert response.json()["authenticated"] is False
        assert response.json()["data"]["details"]
        assert client.get("/func/auth?echo=x", **CLIENT_HEADERS).status_code == 401

    def test_other_domain_is_not_authenticated(self, carol: User) -> None:
        response = login(Client(), HTTP_X_BACKENDAI_DOMAIN="elsewhere")

        assert response.json()["authenticated"] is False

    def test_cookie_does_not_authenticate_the_root_api(self, carol: User) -> None:
        client = Client()
        login(client)

        assert client.get("/auth?echo=x", **CLIENT_HEADERS).status_code == 401

    def test_cookie_without_the_client_header_is_refused(self, carol: User) -> None:
        client = Client()
        login(client)

        no_header = client.get("/func/auth?echo=x")
        foreign = client.get(
            "/func/auth?echo=x", HTTP_ORIGIN="https://evil.example", **CLIENT_HEADERS
        )

        assert no_header.status_code == 403
        assert foreign.status_code == 403

    def test_admin_console_session_does_not_open_the_func_api(self, carol: User) -> None:
        client = Client()
        client.force_login(carol)

        assert client.get("/func/auth?echo=x", **CLIENT_HEADERS).status_code == 401

    def test_streams_accept_the_cookie(self, carol: User) -> None:
        client = Client()
        login(client)

        response = client.get("/func/events/session?sessionName=nope", **CLIENT_HEADERS)

        assert response.status_code == 404  # authenticated; the session does not exist


class TestLockout:
    def test_right_password_is_refused_after_repeated_failures(self, carol: User) -> None:
        for _ in range(15):
            login(Client(), "wrong")

        locked = login(Client())
        other_address = login(Client(), addr="10.0.0.2")

        assert locked.status_code == 429
        assert locked["Content-Type"].startswith("application/problem+json")
        assert locked.json()["type"].endswith("/too-many-login-failures")
        assert int(locked["Retry-After"]) > 0
        assert other_address.json()["authenticated"] is True

    def test_failures_count_with_the_admin_console_login(self, carol: User) -> None:
        for _ in range(15):
            Client().post(
                "/console/login", {"username": EMAIL, "password": "x"}, REMOTE_ADDR="10.0.0.1"
            )

        assert login(Client()).status_code == 429


class TestUpdatePassword:
    def _update(self, client: Client, old: str, new: str, new2: str) -> Any:
        body = json.dumps({"old_password": old, "new_password": new, "new_password2": new2})
        return client.post(
            "/func/auth/update-password",
            data=encrypt_like_the_client(f"http://{HOST}", body.encode()),
            content_type="application/octet-stream",
            HTTP_X_BACKENDAI_ENCODED="true",
            **CLIENT_HEADERS,
        )

    def test_owner_changes_the_password_and_stays_logged_in(self, carol: User) -> None:
        client = Client()
        login(client)

        response = self._update(client, PASSWORD, "new-pass-456", "new-pass-456")
        still = client.get("/func/auth?echo=x", **CLIENT_HEADERS)

        assert response.status_code == 200, response.content
        carol.refresh_from_db()
        assert carol.check_password("new-pass-456")
        assert still.status_code == 200

    def test_other_sessions_of_the_user_are_signed_out(self, carol: User) -> None:
        first, second = Client(), Client()
        login(first)
        login(second)

        self._update(first, PASSWORD, "new-pass-456", "new-pass-456")

        assert second.get("/func/auth?echo=x", **CLIENT_HEADERS).status_code == 401

    @pytest.mark.parametrize(
        ("old", "new", "new2", "status"),
        [("wrong", "new-pass-456", "new-pass-456", 401), (PASSWORD, "new-pass-456", "other", 400),
         (PASSWORD, "short", "short", 400)],
    )  # fmt: skip
    def test_bad_changes_are_refused(
        self, carol: User, old: str, new: str, new2: str, status: int
    ) -> None:
        client = Client()
        login(client)

        response = self._update(client, old, new, new2)

        assert response.status_code == status
        assert response.json()["type"]
        carol.refresh_from_db()
        assert carol.check_password(PASSWORD)
