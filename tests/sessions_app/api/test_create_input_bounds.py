"""`POST /session` and the session paths answer a 4xx, never a 500, for hostile input."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from tests.factories.world import ComputeWorld
from tests.helpers.credentials import Credentials, signed_headers

pytestmark = pytest.mark.django_db


def _post_session(client: Client, creds: Credentials, body: bytes | str) -> Any:
    headers = signed_headers(
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        method="POST",
        rel_url="/session",
        content_type="application/json",
    )
    return client.generic("POST", "/session", data=body, **headers)


def _create(client: Client, creds: Credentials, **fields: Any) -> Any:
    body = {"image": "python", "enqueueOnly": True, **fields}
    return _post_session(client, creds, json.dumps(body))


HOSTILE_FIELDS: list[dict[str, Any]] = [
    {"tag": "t" * 65},
    {"tag": "a\x00b"},
    {"image": "py\x00thon"},
    {"config": {"environ": {"A": "x\x00y"}}},
    {"config": {"environ": {"A\x00": "x"}}},
    {"startupCommand": "echo\x00hi"},
    {"architecture": "x" * 5000},
    {"callback_url": "http://example.com/" + "a" * 2000},
    {"batch_timeout": "Infinity"},
    {"batch_timeout": 1e30},
    {"starts_at": "99999999999999999999d"},
    {"config": {"preopen_ports": [None]}},
    {"config": {"preopen_ports": 5}},
    {"config": {"preopen_ports": [[1]]}},
    {"config": {"preopen_ports": [1e400]}},
    {"config": {"resources": {"cpu": "1e9999999"}}},
    {"config": {"resources": {"cpu": "1e999999"}}},
    {"config": {"resources": {"mem": "1e999999"}}},
    {"owner_access_key": "AK\x00"},
    {"name": "sess\x00ion"},
    {"config": {"environ": {"A=B": "x"}}},
    {"maxWaitSeconds": 10**30},
    {"priority": 10**30},
    {"clusterSize": 10**30},
]


class TestSessionCreateBounds:
    @pytest.mark.parametrize("fields", HOSTILE_FIELDS, ids=lambda f: json.dumps(f)[:40])
    def test_hostile_field_answers_400(
        self, client: Client, world: ComputeWorld, fields: dict[str, Any]
    ) -> None:
        response = _create(client, world.user, **fields)
        assert response.status_code == 400, response.content[:500]
        assert response["Content-Type"].startswith("application/problem+json")
        assert len(response.content) < 8192

    def test_small_request_gets_a_small_error_body(
        self, client: Client, world: ComputeWorld
    ) -> None:
        body = '{"image":"python","config":{"resources":{"cpu":"1e999999"}}}'
        response = _post_session(client, world.user, body)
        assert response.status_code == 400
        assert len(response.content) < 4096

    def test_deeply_nested_json_answers_400_quickly(
        self, client: Client, world: ComputeWorld
    ) -> None:
        depth = 100_000
        body = '{"image":"python","config":{"resource_opts":{"x":' + "[" * depth + "]" * depth
        started = time.monotonic()
        response = _post_session(client, world.user, body + "}}}")
        assert response.status_code == 400
        assert "deeper" in response.json()["msg"]
        assert time.monotonic() - started < 2.0

    def test_environment_names_with_equals_are_refused_by_name(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = _create(client, world.user, config={"environ": {"PATH=/x:": "y"}})
        assert response.status_code == 400
        assert "config.environ" in response.json()["data"]


class TestNulInSessionPaths:
    @pytest.mark.parametrize(
        "rel_url",
        [
            "/session/abc%00def",
            "/session/abc%00def/logs",
            "/session/mysession?owner_access_key=AK%00",
            "/session/mysession/rename?name=new%00name",
            "/events/session?sessionName=a%00b",
        ],
    )
    def test_nul_answers_400(self, client: Client, world: ComputeWorld, rel_url: str) -> None:
        method = "POST" if rel_url.startswith("/session/mysession/rename") else "GET"
        headers = signed_headers(
            access_key=world.user.access_key,
            secret_key=world.user.secret_key,
            method=method,
            rel_url=rel_url,
        )
        response = client.generic(method, rel_url, **headers)
        assert response.status_code == 400
        assert response.json()["type"].endswith("invalid-api-params")


class TestSessionPathInputs:
    """5xx that schemathesis found on the session paths, pinned."""

    def _signed(self, client: Client, creds: Credentials, method: str, rel_url: str) -> Any:
        headers = signed_headers(
            access_key=creds.access_key,
            secret_key=creds.secret_key,
            method=method,
            rel_url=rel_url,
            content_type="application/json",
        )
        return client.generic(method, rel_url, data=b"{}" if method == "POST" else b"", **headers)

    def test_logs_of_a_kernel_id_that_is_not_a_uuid_is_400(
        self, client: Client, world: ComputeWorld
    ) -> None:
        assert _create(client, world.user, name="logs1").status_code == 201

        response = self._signed(client, world.user, "GET", "/session/logs1/logs?kernel_id=%06x")

        assert response.status_code == 400
        assert "kernel_id" in response.json()["msg"]

    def test_app_link_of_a_session_not_running_is_a_conflict(
        self, client: Client, world: ComputeWorld
    ) -> None:
        assert _create(client, world.user, name="apps1").status_code == 201
        headers = signed_headers(
            access_key=world.user.access_key,
            secret_key=world.user.secret_key,
            method="POST",
            rel_url="/session/apps1/app-link",
            content_type="application/json",
        )

        response = client.post(
            "/session/apps1/app-link", data={"app": "http"}, content_type="application/json",
            **headers,
        )  # fmt: skip

        assert response.status_code == 409
        assert response.json()["type"].endswith("/session-not-running")


class TestExecuteBodies:
    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/session/exec1/complete", {"code": 5}),
            ("/session/exec1/complete", {"runId": "r" * 65}),
            ("/session/exec1", {"mode": "batch", "options": {"clean": 5}}),
            ("/session/exec1", {"mode": "query", "runId": "a\x00b"}),
            ("/session/exec1", {"mode": "nope"}),
        ],
    )
    def test_invalid_execute_bodies_are_400(
        self, client: Client, world: ComputeWorld, path: str, body: dict[str, Any]
    ) -> None:
        assert _create(client, world.user, name="exec1").status_code == 201
        headers = signed_headers(
            access_key=world.user.access_key,
            secret_key=world.user.secret_key,
            method="POST",
            rel_url=path,
            content_type="application/json",
        )

        response = client.post(path, data=body, content_type="application/json", **headers)

        assert response.status_code == 400, response.content[:300]
        assert response.json()["type"].endswith("/invalid-api-params")
