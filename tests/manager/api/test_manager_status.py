"""`/manager/status` (freeze, unfreeze) and `/manager/announcement` by role."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backendai_site.config import get_config
from backendai_site.manager.enums import ManagerStatus
from backendai_site.manager.selectors import manager_is_frozen
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.world import ComputeWorld
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials
from tests.helpers.sessions import enqueue

pytestmark = pytest.mark.django_db


def create_over_http(client: Client, creds: Credentials, name: str) -> Any:
    body = {"image": "python", "name": name, "enqueueOnly": True}
    return api_call(client, creds, "POST", "/session", body)


class TestManagerStatus:
    def test_status_counts_live_sessions(self, client: Client, world: ComputeWorld) -> None:
        enqueue(world.user, "live1")
        ended = enqueue(world.user, "gone1")
        Session.objects.filter(pk=ended.pk).update(status=SessionStatus.CANCELLED)

        response = api_call(client, world.user, "GET", "/manager/status", {"status": "running"})

        assert response.status_code == 200
        assert response.json() == {"nodes": [], "status": "running", "active_sessions": 1}

    def test_superadmin_freezes_and_new_sessions_are_refused(
        self, client: Client, world: ComputeWorld
    ) -> None:
        running = enqueue(world.user, "before")

        frozen = api_call(client, world.admin, "PUT", "/manager/status", {"status": "frozen"})
        refused = create_over_http(client, world.user, "during")
        status = api_call(client, world.user, "GET", "/manager/status")

        assert frozen.status_code == 204
        assert refused.status_code == 409
        assert problem_type(refused) == "server-frozen"
        assert "frozen" in refused.json()["msg"]
        assert status.json()["status"] == ManagerStatus.FROZEN
        assert not Session.objects.filter(name="during").exists()
        running.refresh_from_db()
        assert running.status == SessionStatus.PENDING  # kept, not cancelled

        thawed = api_call(client, world.admin, "PUT", "/manager/status", {"status": "running"})
        accepted = create_over_http(client, world.user, "after")

        assert thawed.status_code == 204
        assert accepted.status_code == 201, accepted.content
        assert not manager_is_frozen()

    def test_force_kill_terminates_live_sessions(self, client: Client, world: ComputeWorld) -> None:
        pending = enqueue(world.user, "victim")

        response = api_call(
            client, world.admin, "PUT", "/manager/status", {"status": "frozen", "force_kill": True}
        )

        assert response.status_code == 204
        pending.refresh_from_db()
        assert pending.status == SessionStatus.CANCELLED
        assert manager_is_frozen()

    @pytest.mark.parametrize("who", ["user", "domain_admin"])
    def test_only_a_superadmin_may_freeze(
        self, client: Client, world: ComputeWorld, domain_admin: Credentials, who: str
    ) -> None:
        creds = world.user if who == "user" else domain_admin

        response = api_call(client, creds, "PUT", "/manager/status", {"status": "frozen"})

        assert response.status_code == 403
        assert problem_type(response) == "superadmin-required"
        assert not manager_is_frozen()

    @pytest.mark.parametrize(
        "body",
        [{"status": "paused"}, {}, {"status": "running", "force_kill": True}, ["frozen"]],
    )
    def test_bad_input_is_400(self, client: Client, world: ComputeWorld, body: object) -> None:
        response = api_call(client, world.admin, "PUT", "/manager/status", body)

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"


class TestAnnouncementUpdate:
    def test_superadmin_posts_hides_and_keeps_the_message(
        self, client: Client, world: ComputeWorld
    ) -> None:
        posted = api_call(
            client, world.admin, "POST", "/manager/announcement",
            {"enabled": True, "message": "maintenance at noon"},
        )  # fmt: skip
        seen = api_call(client, world.user, "GET", "/manager/announcement").json()
        hidden = api_call(
            client,
            world.admin,
            "POST",
            "/manager/announcement",
            {"enabled": False, "message": None},
        )
        after_hide = api_call(client, world.user, "GET", "/manager/announcement").json()
        shown_again = api_call(
            client, world.admin, "PUT", "/manager/announcement", {"enabled": True}
        )
        again = api_call(client, world.user, "GET", "/manager/announcement").json()

        assert posted.status_code == hidden.status_code == shown_again.status_code == 204
        assert seen == {"enabled": True, "message": "maintenance at noon"}
        assert after_hide == {"enabled": False, "message": "maintenance at noon"}
        assert again == {"enabled": True, "message": "maintenance at noon"}

    def test_configured_announcement_until_one_is_posted(
        self, client: Client, world: ComputeWorld, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_config(), "announcement", "from the config")

        answer = api_call(client, world.user, "GET", "/manager/announcement").json()

        assert answer == {"enabled": True, "message": "from the config"}

    def test_domain_admin_and_user_are_refused(
        self, client: Client, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        body = {"enabled": True, "message": "mine"}
        for creds in (world.user, domain_admin):
            response = api_call(client, creds, "POST", "/manager/announcement", body)
            assert response.status_code == 403
            assert problem_type(response) == "superadmin-required"
        assert (
            api_call(client, world.user, "GET", "/manager/announcement").json()["enabled"] is False
        )

    def test_enabled_without_any_message_is_400(self, client: Client, world: ComputeWorld) -> None:
        response = api_call(client, world.admin, "POST", "/manager/announcement", {"enabled": True})

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"
