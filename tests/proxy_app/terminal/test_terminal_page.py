"""The terminal page: owner and admins get xterm.js wired to the pty stream; others get 404;
the session's admin page links to it and to the session's HTTP apps."""

from __future__ import annotations

from typing import cast

from django.test import Client, RequestFactory
from django.utils import timezone

from backendai_site.accounts.enums import UserRole
from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel, Session
from tests.factories.sessions import SessionFactory, owner_session_kwargs
from tests.helpers.credentials import make_credentials


def running_session(role: UserRole = UserRole.USER) -> tuple[Session, str]:
    creds = make_credentials(role=role)
    creds.user.set_password("pw-123456")
    creds.user.save()
    session = cast(
        Session,
        SessionFactory(
            status=SessionStatus.RUNNING,
            status_changed=timezone.now(),
            **owner_session_kwargs(creds.keypair),
        ),
    )
    Kernel.objects.filter(session=session).update(
        service_ports=[{"name": "http", "protocol": "http", "container_ports": [8080]}]
    )
    return session, creds.user.email


class TestTerminalPage:
    def test_owner_gets_the_page(self, client: Client, db: None) -> None:
        session, email = running_session()
        client.login(request=RequestFactory().get("/"), username=email, password="pw-123456")

        response = client.get(f"/console/session/{session.pk}/terminal")

        assert response.status_code == 200
        body = response.content.decode()
        assert f'data-stream-path="/stream/session/{session.pk}/pty"' in body
        assert "/console/terminal/assets/xterm.js" in body
        assert client.get("/console/terminal/assets/xterm.js").status_code == 200

    def test_another_user_gets_404(self, client: Client, db: None) -> None:
        session, _ = running_session()
        _, other = running_session()
        client.login(request=RequestFactory().get("/"), username=other, password="pw-123456")

        assert client.get(f"/console/session/{session.pk}/terminal").status_code == 404

    def test_anonymous_is_sent_to_login(self, client: Client, db: None) -> None:
        session, _ = running_session()

        response = client.get(f"/console/session/{session.pk}/terminal")

        assert response.status_code == 302
        assert response["Location"].startswith("/console/login")

    def test_login_page_renders(self, client: Client, db: None) -> None:
        assert b"csrfmiddlewaretoken" in client.get("/console/login").content


class TestSessionAdminLinks:
    def test_admin_page_links_terminal_and_apps(self, client: Client, db: None) -> None:
        session, _ = running_session()
        _, admin_email = running_session(UserRole.SUPERADMIN)
        client.login(request=RequestFactory().get("/"), username=admin_email, password="pw-123456")

        base = f"/admin/sessions_app/session/{session.pk}"
        response = client.get(f"{base}/change/")
        terminal = client.get(f"{base}/open_terminal/")
        app = client.post(f"{base}/open_app/", {"_form_submitted": "on", "app": "http"})

        body = response.content.decode()
        assert response.status_code == 200
        assert f"{base}/open_terminal/" in body
        assert f"{base}/open_app/" in body
        assert terminal["Location"] == f"/console/session/{session.pk}/terminal"
        assert app["Location"].startswith(f"/console/session/{session.pk}/apps/http")
        assert "idle checks" in body.lower()
