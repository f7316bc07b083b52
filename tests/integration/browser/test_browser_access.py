"""A browser user on the live stack (real Docker): the terminal page runs a command, the image's
HTTP app is reached through the app proxy with a one-time token, nobody else gets in, and an idle
session ends with a recorded reason."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from backendai_site.accounts.enums import DefaultForUnspecified
from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import SessionStatus
from sessions_app.models import Session, SessionStatusHistory
from tests.factories.sessions import limited_policy
from tests.factories.world import make_member
from tests.helpers.browser import Signed
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]
PASSWORD = "pw-123456"  # what make_member gives


def create_session(stack: Stack, cli: Cli, creds: Credentials, name: str) -> Session:
    created = cli(stack, creds, "session", "create", "python", "-t", name)
    assert created.returncode == 0, f"{created.stdout}\n{created.stderr}\n{stack.logs()}"
    session = Session.objects.get(name=name)
    assert session.status == SessionStatus.RUNNING, (session.status_info, stack.logs())
    return session


def app_get(stack: Stack, url: str, cookie: str | None = None) -> httpx.Response:
    """GET an apps-domain URL: the socket goes to the web role, the Host names the app."""
    parsed = httpx.URL(url)
    headers = {"Host": f"{parsed.host}:{parsed.port}"}
    if cookie:
        headers["Cookie"] = f"bai_app={cookie}"
    target = httpx.URL(stack.url).copy_with(path=parsed.path, query=parsed.query or None)
    with httpx.Client(timeout=30) as client:
        return client.get(target, headers=headers)


class TestAppProxy:
    def test_owner_opens_the_http_app_and_nobody_else_does(
        self, stack: Stack, cli: Cli, signed: Signed
    ) -> None:
        defaults = default_tenancy_ensure()
        owner = make_member(defaults.project, "app-owner@example.com")
        mallory = make_member(defaults.project, "app-mallory@example.com")
        session = create_session(stack, cli, owner, "app-e2e")

        link = signed(stack, owner, "POST", f"/session/{session.pk}/app-link", {"app": "http"})
        assert link.status_code == 200, link.text
        url = link.json()["url"]
        assert f"{session.pk.hex}-http.apps.localhost" in url

        exchanged = app_get(stack, url)
        reused = app_get(stack, url)
        assert exchanged.status_code == 302, exchanged.text
        assert reused.status_code == 403
        cookie = exchanged.cookies["bai_app"]
        listing = app_get(stack, url.split("?")[0], cookie)
        assert listing.status_code == 200
        assert "Directory listing" in listing.text  # python -m http.server in the container

        # another user's keypair cannot mint a link; no cookie or a forged one gets no bytes
        # (a cookie minted for another user's app is refused in tests/proxy_app/apps_proxy)
        refused = signed(stack, mallory, "POST", f"/session/{session.pk}/app-link", {"app": "http"})
        assert refused.status_code in (403, 404), refused.text
        assert "url" not in refused.text
        for bad_cookie in (None, "forged-" + cookie[7:]):
            foreign = app_get(stack, url.split("?")[0], bad_cookie)
            assert foreign.status_code == 403
            assert "Directory listing" not in foreign.text


class TestIdleTimeout:
    def test_idle_session_ends_with_a_recorded_reason(
        self, stack: Stack, cli: Cli, signed: Signed
    ) -> None:
        defaults = default_tenancy_ensure()
        owner = make_member(defaults.project, "idle-owner@example.com")
        owner.keypair.resource_policy = limited_policy(
            "idle-e2e", idle_timeout=12, default_for_unspecified=DefaultForUnspecified.UNLIMITED
        )
        owner.keypair.save(update_fields=["resource_policy"])
        session = create_session(stack, cli, owner, "idle-e2e")

        info = signed(stack, owner, "GET", f"/session/{session.pk}")
        assert info.status_code == 200, info.text
        left = info.json()["idleChecks"]["network_timeout"]
        assert left["threshold"] == 12 and 0 < left["remaining"] <= 12

        wait_for(
            lambda: Session.objects.get(pk=session.pk).status in SessionStatus.dead(),
            60,
            "the idle check to end the session",
        )
        session.refresh_from_db()
        reasons = set(
            SessionStatusHistory.objects.filter(session=session).values_list("reason", flat=True)
        )
        assert "idle-timeout" in reasons, (reasons, session.status_info)


class TestTerminalPage:
    def test_typed_command_shows_its_output(
        self, stack: Stack, cli: Cli, chromium_page: Any
    ) -> None:
        defaults = default_tenancy_ensure()
        owner = make_member(defaults.project, "term-owner@example.com")
        session = create_session(stack, cli, owner, "term-e2e")
        page = chromium_page
        terminal_path = f"/console/session/{session.pk}/terminal"

        page.goto(f"{stack.url}/console/login?next={terminal_path}")
        page.fill("input[name=username]", owner.user.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("#login")
        page.wait_for_url(f"**{terminal_path}")
        page.wait_for_selector("body[data-state=connected]", timeout=30_000)
        time.sleep(0.5)  # let the shell print its prompt
        page.click("#terminal")
        page.keyboard.type("echo hello-$((6*7))")
        page.keyboard.press("Enter")

        page.wait_for_function(
            """() => {
                const buffer = window.baiTerminal.buffer.active;
                for (let i = 0; i < buffer.length; i++) {
                    const line = buffer.getLine(i).translateToString(true);
                    if (line.trim() === "hello-42") return true;
                }
                return false;
            }""",
            timeout=30_000,
        )

    def test_another_user_gets_no_terminal(
        self, stack: Stack, cli: Cli, chromium_page: Any
    ) -> None:
        defaults = default_tenancy_ensure()
        owner = make_member(defaults.project, "term-owner2@example.com")
        mallory = make_member(defaults.project, "term-mallory@example.com")
        session = create_session(stack, cli, owner, "term-e2e2")
        page = chromium_page
        terminal_path = f"/console/session/{session.pk}/terminal"

        page.goto(f"{stack.url}/console/login?next={terminal_path}")
        page.fill("input[name=username]", mallory.user.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("#login")
        response = page.goto(f"{stack.url}{terminal_path}")

        assert response is not None and response.status == 404
