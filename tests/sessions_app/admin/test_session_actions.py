"""The buttons on a session's admin page: who sees them, what they do, and their audit rows."""

from __future__ import annotations

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.audit.models import AuditLogEntry
from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel, Session
from sessions_app.scheduler.runner import schedule_resource_group
from sessions_app.services import lifecycle
from tests.factories.accounts import DomainFactory
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import make_credentials
from tests.helpers.lifecycle import started_event
from tests.helpers.sessions import enqueue

pytestmark = pytest.mark.django_db

BASE = "/admin/sessions_app/session"
CONFIRM = {"_form_submitted": "on"}
BUTTONS = (b"Open terminal", b"Restart", b"Destroy", b"Change priority")


@pytest.fixture
def pending(world: ComputeWorld) -> Session:
    return enqueue(world.user, "waiting1")


@pytest.fixture
def running(world: ComputeWorld) -> Session:
    session = enqueue(world.user, "running1")
    schedule_resource_group(world.group.pk)  # commands would go out on commit: none here
    lifecycle.on_kernel_started(started_event(Kernel.objects.get(session=session)))
    session.refresh_from_db()
    assert session.status == SessionStatus.RUNNING
    return session


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def monitor_of(world: ComputeWorld) -> User:
    return make_member(world.project, "monitor@example.com", UserRole.MONITOR).user


class TestSessionPageButtons:
    def test_a_superadmin_sees_every_button(self, world: ComputeWorld, running: Session) -> None:
        page = logged_in(world.admin.user).get(f"{BASE}/{running.pk}/change/")

        assert page.status_code == 200
        for label in (*BUTTONS, b"Open app", b"Logs"):
            assert label in page.content, label
        assert f"{BASE}/{running.pk}/restart_session/".encode() in page.content

    def test_a_monitor_sees_only_the_logs(self, world: ComputeWorld, running: Session) -> None:
        page = logged_in(monitor_of(world)).get(f"{BASE}/{running.pk}/change/")

        assert page.status_code == 200
        assert f"{BASE}/{running.pk}/tail_logs/".encode() in page.content
        for name in ("open_terminal", "restart_session", "destroy_session", "change_priority"):
            assert f"{BASE}/{running.pk}/{name}/".encode() not in page.content, name


class TestSessionActions:
    def test_destroy_cancels_and_is_audited(self, world: ComputeWorld, pending: Session) -> None:
        response = logged_in(world.admin.user).post(
            f"{BASE}/{pending.pk}/destroy_session/", CONFIRM
        )

        assert response.status_code == 302
        pending.refresh_from_db()
        assert (pending.status, pending.status_info) == (SessionStatus.CANCELLED, "admin-requested")
        entry = AuditLogEntry.objects.get(action="admin:sessions_app_session_destroy_session")
        assert (entry.target_type, entry.target_id) == ("sessions_app.session", str(pending.pk))
        assert entry.user_email == world.admin.user.email

    def test_the_dialog_get_changes_nothing(self, world: ComputeWorld, pending: Session) -> None:
        response = logged_in(world.admin.user).get(f"{BASE}/{pending.pk}/destroy_session/")

        assert response.status_code == 200
        assert b'name="forced"' in response.content
        pending.refresh_from_db()
        assert pending.status == SessionStatus.PENDING

    def test_restart_marks_a_running_session(self, world: ComputeWorld, running: Session) -> None:
        client = logged_in(world.admin.user)

        response = client.post(f"{BASE}/{running.pk}/restart_session/", CONFIRM)

        assert response.status_code == 302
        running.refresh_from_db()
        assert running.status == SessionStatus.RESTARTING
        assert AuditLogEntry.objects.filter(
            action="admin:sessions_app_session_restart_session", target_id=str(running.pk)
        ).exists()

    def test_restart_of_a_pending_session_is_refused_in_words(
        self, world: ComputeWorld, pending: Session
    ) -> None:
        client = logged_in(world.admin.user)

        response = client.post(f"{BASE}/{pending.pk}/restart_session/", CONFIRM, follow=True)

        pending.refresh_from_db()
        assert pending.status == SessionStatus.PENDING
        assert b"Only running sessions restart" in response.content

    def test_priority_goes_through_the_service(self, world: ComputeWorld, pending: Session) -> None:
        client = logged_in(world.admin.user)

        ok = client.post(f"{BASE}/{pending.pk}/change_priority/", {**CONFIRM, "priority": "42"})
        too_high = client.post(
            f"{BASE}/{pending.pk}/change_priority/", {**CONFIRM, "priority": "420"}
        )

        pending.refresh_from_db()
        assert (ok.status_code, too_high.status_code) == (302, 200)  # the dialog again
        assert pending.priority == 42
        assert AuditLogEntry.objects.filter(
            action="admin:sessions_app_session_change_priority"
        ).exists()

    def test_terminal_and_app_lead_to_the_console_pages(
        self, world: ComputeWorld, running: Session
    ) -> None:
        client = logged_in(world.admin.user)

        terminal = client.get(f"{BASE}/{running.pk}/open_terminal/")
        app = client.post(f"{BASE}/{running.pk}/open_app/", {**CONFIRM, "app": "http"})

        assert terminal["Location"] == f"/console/session/{running.pk}/terminal"
        assert app["Location"] == f"/console/session/{running.pk}/apps/http"

    def test_an_htmx_dialog_is_sent_on_with_hx_redirect(
        self, world: ComputeWorld, pending: Session
    ) -> None:
        response = logged_in(world.admin.user).post(
            f"{BASE}/{pending.pk}/destroy_session/", CONFIRM, HTTP_HX_REQUEST="true"
        )

        assert response["HX-Redirect"] == f"{BASE}/{pending.pk}/change/"

    def test_logs_page_and_its_text(self, world: ComputeWorld, pending: Session) -> None:
        Kernel.objects.filter(session=pending).update(logs="hello from the kernel\n")
        client = logged_in(monitor_of(world))

        page = client.get(f"{BASE}/{pending.pk}/tail_logs/")
        text = client.get(f"{BASE}/{pending.pk}/tail_logs/?format=text")

        assert page.status_code == 200
        assert b"hello from the kernel" in page.content
        assert b"data-poll-url" in page.content
        assert text["Content-Type"].startswith("text/plain")
        assert text.content == b"hello from the kernel\n"


class TestSessionActionsRefused:
    def test_a_monitors_forged_post_is_refused(self, world: ComputeWorld, pending: Session) -> None:
        client = logged_in(monitor_of(world))
        before = pending.priority

        destroy = client.post(f"{BASE}/{pending.pk}/destroy_session/", CONFIRM)
        priority = client.post(
            f"{BASE}/{pending.pk}/change_priority/", {**CONFIRM, "priority": "99"}
        )

        pending.refresh_from_db()
        assert (destroy.status_code, priority.status_code) == (403, 403)
        assert (pending.status, pending.priority) == (SessionStatus.PENDING, before)

    def test_another_domains_monitor_cannot_even_read_the_logs(
        self, world: ComputeWorld, pending: Session
    ) -> None:
        elsewhere = DomainFactory.create(name="elsewhere")
        stranger = make_credentials(role=UserRole.MONITOR, domain=elsewhere).user

        response = logged_in(stranger).get(f"{BASE}/{pending.pk}/tail_logs/")

        assert response.status_code == 403
