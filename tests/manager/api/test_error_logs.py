"""`/logs/error`: 5xx answers and client reports recorded, listed by role, marked cleared."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain
from backendai_site.accounts.services import keypair_issue, user_create
from backendai_site.manager.models import ErrorLog
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials

pytestmark = pytest.mark.django_db


def report(client: Client, creds: Credentials, message: str) -> Any:
    body = {
        "severity": "error",
        "source": "webui",
        "message": message,
        "context_lang": "js",
        "context_env": '{"browser": "firefox"}',
        "request_url": "/session",
        "request_status": 500,
    }
    return api_call(client, creds, "POST", "/logs/error", body)


def listed(client: Client, creds: Credentials, query: str = "") -> dict[str, Any]:
    response = api_call(client, creds, "GET", "/logs/error" + query)
    assert response.status_code == 200, response.content
    return dict(response.json())


@pytest.fixture
def far_user(world: ComputeWorld) -> Credentials:
    domain = Domain.objects.create(name="far")
    user = user_create(email="far@example.com", password="pw-123456", domain=domain)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the disk is on fire")


class TestServerErrorsAreRecorded:
    def test_a_5xx_answer_is_logged_with_its_traceback(
        self, monkeypatch: pytest.MonkeyPatch, world: ComputeWorld
    ) -> None:
        monkeypatch.setattr("backendai_site.manager.api.views.announcement_get", _boom)
        client = Client(raise_request_exception=False)

        response = api_call(client, world.user, "GET", "/manager/announcement")

        assert response.status_code == 500
        entry = ErrorLog.objects.get()
        assert entry.request_status == 500 and entry.request_url == "/manager/announcement"
        assert entry.user_id == world.user.user.pk and entry.source == "manager"
        assert "RuntimeError: the disk is on fire" in entry.message
        assert "_boom" in entry.traceback
        mine = listed(client, world.user)
        assert mine["count"] == 1 and mine["logs"][0]["request_status"] == 500

    def test_a_4xx_answer_is_not_logged(self, client: Client, world: ComputeWorld) -> None:
        api_call(client, world.user, "PUT", "/manager/status", {"status": "frozen"})

        assert not ErrorLog.objects.exists()


class TestErrorLogList:
    def test_rows_have_the_shape_the_client_prints(
        self, client: Client, world: ComputeWorld
    ) -> None:
        assert report(client, world.user, "it broke").json() == {"success": True}

        answer = listed(client, world.user)

        (row,) = answer["logs"]
        assert answer["count"] == 1
        assert isinstance(row["created_at"], float)
        assert row["severity"] == "error" and row["source"] == "webui"
        assert row["user"] == str(world.user.user.pk)
        assert row["message"] == "it broke" and row["context_env"] == {"browser": "firefox"}
        assert row["request_url"] == "/session" and row["request_status"] == 500
        assert row["is_read"] is False and "is_cleared" not in row

    def test_scopes_by_role(
        self, client: Client, world: ComputeWorld, domain_admin: Credentials, far_user: Credentials
    ) -> None:
        report(client, world.user, "near")
        report(client, far_user, "far")

        mine = listed(client, world.user)
        domain = listed(client, domain_admin)
        everything = listed(client, world.admin)

        assert [r["message"] for r in mine["logs"]] == ["near"]
        assert [r["message"] for r in domain["logs"]] == ["near"]
        assert {r["message"] for r in everything["logs"]} == {"near", "far"}
        assert all("is_cleared" in r for r in everything["logs"])
        assert listed(client, far_user)["count"] == 1

    def test_pages_newest_first_and_marks_read(self, client: Client, world: ComputeWorld) -> None:
        for i in range(5):
            report(client, world.user, f"log{i}")

        first = listed(client, world.user, "?mark_read=True&page_size=2&page_no=1")
        third = listed(client, world.user, "?mark_read=False&page_size=2&page_no=3")

        assert first["count"] == 5
        assert [r["message"] for r in first["logs"]] == ["log4", "log3"]
        assert [r["message"] for r in third["logs"]] == ["log0"]
        assert set(ErrorLog.objects.filter(is_read=True).values_list("message", flat=True)) == {
            "log4",
            "log3",
        }

    @pytest.mark.parametrize(
        "query", ["?page_size=0", "?page_size=101", "?page_no=0", "?mark_read=maybe", "?page_no=x"]
    )
    def test_bad_query_is_400(self, client: Client, world: ComputeWorld, query: str) -> None:
        response = api_call(client, world.user, "GET", "/logs/error" + query)

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"

    @pytest.mark.parametrize(
        "body",
        [
            {"severity": "fatal", "source": "x", "message": "m", "context_lang": "js"},
            {"severity": "error", "source": "x", "context_lang": "js"},
            {"severity": "error", "source": "x", "message": "m", "context_lang": "js",
             "context_env": "[1, 2]"},
        ],
    )  # fmt: skip
    def test_bad_report_is_400(self, client: Client, world: ComputeWorld, body: object) -> None:
        response = api_call(client, world.user, "POST", "/logs/error", body)

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"
        assert not ErrorLog.objects.exists()


class TestErrorLogClear:
    def test_cleared_logs_leave_every_list_but_the_superadmins(
        self, client: Client, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        report(client, world.user, "noise")
        log_id = listed(client, world.user)["logs"][0]["log_id"]

        cleared = api_call(client, world.user, "POST", f"/logs/error/{log_id}/clear")

        assert cleared.status_code == 200 and cleared.json() == {"success": True}
        assert listed(client, world.user)["count"] == 0
        assert listed(client, domain_admin)["count"] == 0
        (row,) = listed(client, world.admin)["logs"]
        assert row["is_cleared"] is True

    def test_others_logs_cannot_be_cleared(
        self, client: Client, world: ComputeWorld, domain_admin: Credentials, far_user: Credentials
    ) -> None:
        report(client, far_user, "theirs")
        log_id = str(ErrorLog.objects.get().pk)

        by_user = api_call(client, world.user, "POST", f"/logs/error/{log_id}/clear")
        by_domain_admin = api_call(client, domain_admin, "POST", f"/logs/error/{log_id}/clear")
        bad_id = api_call(client, world.user, "POST", "/logs/error/not-a-uuid/clear")
        by_superadmin = api_call(client, world.admin, "POST", f"/logs/error/{log_id}/clear")

        assert by_user.status_code == by_domain_admin.status_code == bad_id.status_code == 404
        assert problem_type(by_user) == "error-log-not-found"
        assert by_superadmin.status_code == 200
        assert ErrorLog.objects.get().is_cleared is True

    def test_monitors_only_read(self, client: Client, world: ComputeWorld) -> None:
        monitor = make_member(world.project, "mon@example.com", UserRole.MONITOR)
        report(client, world.user, "watched")
        log_id = str(ErrorLog.objects.get().pk)

        seen = listed(client, monitor)
        refused = api_call(client, monitor, "POST", f"/logs/error/{log_id}/clear")

        assert seen["count"] == 1
        assert refused.status_code == 404
