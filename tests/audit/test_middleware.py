"""`AuditLogMiddleware` on the signed REST API: what a mutating call records, and what not."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from backendai_site.audit.models import AuditLogEntry
from sessions_app.models import Session
from tests.factories.world import ComputeWorld
from tests.helpers.credentials import Credentials, signed_headers

pytestmark = pytest.mark.django_db


def call(
    client: Client,
    creds: Credentials,
    method: str,
    rel_url: str,
    body: bytes = b"",
    **extra: Any,
) -> Any:
    headers = signed_headers(
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        method=method,
        rel_url=rel_url,
        content_type="application/json",
    )
    return client.generic(method, rel_url, data=body, **headers, **extra)


class TestApiMutationIsRecorded:
    def test_a_signed_rename_records_who_what_and_how(
        self, client: Client, world: ComputeWorld, users_running_session: Session
    ) -> None:
        response = call(
            client,
            world.user,
            "POST",
            "/session/mysession/rename?name=renamed",
            HTTP_X_REQUEST_ID="req-42.a",
            REMOTE_ADDR="10.1.2.3",
        )

        assert response.status_code == 204, response.content
        assert response["X-Request-ID"] == "req-42.a"
        entry = AuditLogEntry.objects.get()
        user = world.user.user
        assert (entry.user_id, entry.user_email, entry.role, entry.domain_name) == (
            user.pk,
            user.email,
            "user",
            world.domain.name,
        )
        assert entry.access_key == world.user.access_key
        assert entry.remote_addr == "10.1.2.3"
        assert entry.action == "POST /session/<str:ref>/rename"
        assert entry.view_name == "session-rename"
        assert (entry.target_type, entry.target_id) == ("session", "mysession")
        assert (entry.outcome, entry.status_code) == ("success", 204)
        assert (entry.method, entry.path) == ("POST", "/session/mysession/rename")
        assert entry.request_id == "req-42.a"
        # nobody else named: the caller acted for itself
        assert (entry.acting_as_access_key, entry.acting_as_email) == (
            world.user.access_key,
            user.email,
        )

    def test_a_request_id_is_made_when_none_or_a_bad_one_is_given(
        self, client: Client, world: ComputeWorld
    ) -> None:
        first = call(client, world.admin, "POST", "/manager/announcement", b"{}")
        second = call(
            client,
            world.admin,
            "POST",
            "/manager/announcement",
            b"{}",
            HTTP_X_REQUEST_ID="bad id; drop table",
        )

        ids = [first["X-Request-ID"], second["X-Request-ID"]]
        assert all(uuid.UUID(value).version == 4 for value in ids)
        assert sorted(AuditLogEntry.objects.values_list("request_id", flat=True)) == sorted(ids)

    def test_the_session_mode_mount_shares_the_action_name(
        self, client: Client, world: ComputeWorld
    ) -> None:
        call(client, world.admin, "POST", "/func/manager/announcement", b"{}")

        entry = AuditLogEntry.objects.get()
        assert entry.action == "POST /manager/announcement"
        assert entry.view_name == "func:announcement"
        assert entry.path == "/func/manager/announcement"


class TestOutcomes:
    def test_a_refused_call_is_denied(self, client: Client, world: ComputeWorld) -> None:
        response = call(client, world.user, "PUT", "/manager/status", b'{"status": "frozen"}')

        assert response.status_code == 403
        entry = AuditLogEntry.objects.get()
        assert (entry.outcome, entry.status_code, entry.user_email) == (
            "denied",
            403,
            world.user.user.email,
        )
        assert entry.action == "PUT /manager/status"

    def test_a_bad_call_is_a_failure(self, client: Client, world: ComputeWorld) -> None:
        response = call(client, world.admin, "PUT", "/manager/status", b'{"status": "sleepy"}')

        assert response.status_code == 400
        entry = AuditLogEntry.objects.get()
        assert (entry.outcome, entry.status_code, entry.role) == ("failure", 400, "superadmin")

    def test_an_unsigned_call_is_denied_and_anonymous(self, client: Client) -> None:
        response = client.put("/manager/status", data=b"{}", content_type="application/json")

        assert response.status_code == 401
        entry = AuditLogEntry.objects.get()
        assert (entry.outcome, entry.user_id, entry.user_email, entry.access_key) == (
            "denied",
            None,
            "",
            "",
        )


class TestNotRecorded:
    def test_a_get_is_not_recorded_but_carries_a_request_id(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = call(client, world.user, "GET", "/manager/announcement")

        assert response.status_code == 200
        assert response["X-Request-ID"]
        assert not AuditLogEntry.objects.exists()

    def test_a_failing_insert_leaves_the_answer_alone(
        self,
        client: Client,
        world: ComputeWorld,
        users_running_session: Session,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        def broken(**kwargs: Any) -> None:
            raise RuntimeError("the audit table is gone")

        monkeypatch.setattr("backendai_site.audit.middleware.audit_entry_record", broken)

        response = call(client, world.user, "POST", "/session/mysession/rename?name=renamed")

        assert response.status_code == 204
        assert Session.objects.get(pk=users_running_session.pk).name == "renamed"
        assert "audit entry not recorded" in caplog.text


class TestActingAs:
    def test_an_admin_acting_for_an_owner_is_recorded_as_acting_for_it(
        self, client: Client, world: ComputeWorld, users_running_session: Session
    ) -> None:
        owner = world.user.access_key
        response = call(
            client,
            world.admin,
            "POST",
            f"/session/mysession/rename?name=renamed&owner_access_key={owner}",
        )

        assert response.status_code == 204, response.content
        entry = AuditLogEntry.objects.get()
        assert (entry.user_email, entry.access_key) == (
            world.admin.user.email,
            world.admin.access_key,
        )
        assert (entry.acting_as_access_key, entry.acting_as_email) == (
            owner,
            world.user.user.email,
        )

    def test_an_owner_named_in_the_body_is_recorded(
        self, client: Client, world: ComputeWorld
    ) -> None:
        body = b'{"owner_access_key": "%s", "status": "frozen"}' % world.user.access_key.encode()

        call(client, world.admin, "PUT", "/manager/status", body)

        entry = AuditLogEntry.objects.get()
        assert entry.access_key == world.admin.access_key
        assert entry.acting_as_access_key == world.user.access_key
        assert entry.acting_as_email == world.user.user.email
