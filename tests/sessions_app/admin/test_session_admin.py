from __future__ import annotations

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.accounts import DomainFactory
from tests.factories.world import ComputeWorld
from tests.helpers.credentials import make_credentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending_with_verdict(world: ComputeWorld) -> Session:
    session = session_enqueue(
        requester=world.user.keypair,
        request=SessionCreateRequest.model_validate(
            {"image": "python", "name": "waiting1", "enqueueOnly": True}
        ),
    ).session
    Session.objects.filter(pk=session.pk).update(
        status_data={
            "scheduler": {
                "verdict": "insufficient-capacity",
                "msg": "No agent has 2 cpu free (largest free: 1)",
                "checks": [],
                "queue_position": 1,
                "queue_length": 1,
            }
        }
    )
    return session


def console(world: ComputeWorld) -> Client:
    client = Client()
    client.force_login(world.admin.user)
    return client


class TestSessionAdmin:
    def test_list_shows_why_a_session_is_pending(
        self, world: ComputeWorld, pending_with_verdict: Session
    ) -> None:
        response = console(world).get("/admin/sessions_app/session/")

        assert response.status_code == 200
        assert b"waiting1" in response.content
        assert b"No agent has 2 cpu free" in response.content

    def test_change_page_shows_verdict_and_history(
        self, world: ComputeWorld, pending_with_verdict: Session
    ) -> None:
        response = console(world).get(
            f"/admin/sessions_app/session/{pending_with_verdict.pk}/change/"
        )

        assert response.status_code == 200
        assert b"insufficient-capacity" in response.content
        assert b"enqueued" in response.content  # the first history row's reason

    def test_terminate_action_cancels_a_pending_session(
        self, world: ComputeWorld, pending_with_verdict: Session
    ) -> None:
        console(world).post(
            "/admin/sessions_app/session/",
            {"action": "terminate_sessions", "_selected_action": [str(pending_with_verdict.pk)]},
        )

        pending_with_verdict.refresh_from_db()
        assert pending_with_verdict.status == SessionStatus.CANCELLED
        assert pending_with_verdict.status_info == "admin-requested"

    def test_monitor_cannot_terminate(
        self, world: ComputeWorld, pending_with_verdict: Session
    ) -> None:
        from tests.factories.world import make_member

        monitor = make_member(world.project, "monitor@example.com", UserRole.MONITOR)
        client = Client()
        client.force_login(monitor.user)

        listing = client.get("/admin/sessions_app/session/")
        client.post(
            "/admin/sessions_app/session/",
            {"action": "terminate_sessions", "_selected_action": [str(pending_with_verdict.pk)]},
        )

        pending_with_verdict.refresh_from_db()
        assert listing.status_code == 200
        assert pending_with_verdict.status == SessionStatus.PENDING


class TestSessionAdminScope:
    def test_domain_monitor_lists_its_domains_sessions_only(
        self, world: ComputeWorld, pending_with_verdict: Session
    ) -> None:
        elsewhere = DomainFactory.create(name="elsewhere")
        own = make_credentials(role=UserRole.MONITOR, domain=pending_with_verdict.domain)
        other = make_credentials(role=UserRole.MONITOR, domain=elsewhere)
        watcher = make_credentials(
            role=UserRole.MONITOR, domain=elsewhere, monitors_all_domains=True
        )

        seen: dict[str, bool] = {}
        for name, creds in (("own", own), ("other", other), ("global", watcher)):
            client = Client()
            client.force_login(creds.user)
            seen[name] = b"waiting1" in client.get("/admin/sessions_app/session/").content

        assert seen == {"own": True, "other": False, "global": True}
