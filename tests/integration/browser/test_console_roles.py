"""Three console roles in a real browser on the live stack (real Docker): each sees the dashboard
scoped to its role; a superadmin and a domain admin open a running session's terminal from the
session's page and a superadmin drains an agent; a monitor finds no action buttons. Screenshots of
the dashboard and the session page are saved under the test run's output for a person to look at."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Max

from agents_app.models import Agent, AgentResource
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Project
from backendai_site.accounts.services import default_tenancy_ensure
from backendai_site.config import BASE_DIR
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.accounts import DomainFactory
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]
PASSWORD = "pw-123456"  # what make_member gives
OUTPUT = Path(os.environ.get("BAI_TEST_OUTPUT", BASE_DIR / ".data" / "test-output"))
SCREENSHOTS = OUTPUT / "console"


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def console_login(page: Any, stack: Stack, email: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{stack.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/admin/")


def running_session(stack: Stack, cli: Cli, creds: Credentials, name: str) -> Session:
    created = cli(stack, creds, "session", "create", "python", "-t", name)
    assert created.returncode == 0, f"{created.stdout}\n{created.stderr}\n{stack.logs()}"
    session = Session.objects.get(name=name)
    assert session.status == SessionStatus.RUNNING, (session.status_info, stack.logs())
    return session


def waiting_elsewhere() -> Session:
    """A session of another domain asking for a whole agent's CPUs while another session holds
    some: it waits, with a verdict."""
    largest = AgentResource.objects.filter(slot_name="cpu").aggregate(most=Max("capacity"))["most"]
    domain = DomainFactory.create(name="console-elsewhere")
    project = Project.objects.create(
        domain=domain, name="far", resource_policy=default_tenancy_ensure().project_policy
    )
    stranger = make_member(project, "console-stranger@example.com")
    return session_enqueue(
        requester=stranger.keypair,
        request=SessionCreateRequest.model_validate(
            {
                "image": "python",
                "name": "far-away-wait",
                "group": "far",
                "enqueueOnly": True,
                "config": {"resources": {"cpu": str(largest)}},
            }
        ),
    ).session


def open_terminal_from_session_page(page: Any, stack: Stack, session: Session, who: str) -> None:
    page.goto(f"{stack.url}/admin/sessions_app/session/{session.pk}/change/")
    shot(page, f"session-page-{who}")
    link = page.locator("a[href*='/open_terminal/']").first
    if link.get_attribute("target") == "_blank":
        with page.expect_popup() as popup:
            link.click()
        terminal = popup.value
    else:
        link.click()
        terminal = page
    terminal.wait_for_selector("body[data-state=connected]", timeout=30_000)
    if terminal is not page:
        terminal.close()


def act(page: Any, method: str, label: str) -> None:
    """Click an object page's action button (its link names the action), then confirm its
    dialog, whose submit button carries the action's label."""
    page.locator(f"a[href*='/{method}/']").first.click()
    confirm = page.locator("button[type=submit]", has_text=label).last
    confirm.wait_for(state="visible", timeout=10_000)
    confirm.click()


class TestConsoleRoles:
    def test_superadmin_domain_admin_and_monitor(
        self, stack: Stack, cli: Cli, chromium_page: Any
    ) -> None:
        defaults = default_tenancy_ensure()
        owner = make_member(defaults.project, "console-owner@example.com")
        root = make_member(defaults.project, "console-root@example.com", UserRole.SUPERADMIN)
        domain_admin = make_member(defaults.project, "console-dadmin@example.com", UserRole.ADMIN)
        monitor = make_member(defaults.project, "console-monitor@example.com", UserRole.MONITOR)
        session = running_session(stack, cli, owner, "console-e2e")
        far = waiting_elsewhere()
        wait_for(
            lambda: bool((Session.objects.get(pk=far.pk).status_data or {}).get("scheduler")),
            30,
            "the scheduler to give the far session a verdict",
        )
        page = chromium_page

        # superadmin: the whole cluster, what waits and why, a terminal, a drain
        console_login(page, stack, root.user.email)
        dashboard = page.content()
        shot(page, "dashboard-superadmin")
        assert "far-away-wait" in dashboard
        assert 'id="capacity-groups"' in dashboard
        assert 'id="pending-queue"' in dashboard
        open_terminal_from_session_page(page, stack, session, "superadmin")
        agent = Agent.objects.get(pk=session.kernels.get().agent_id)
        page.goto(f"{stack.url}/admin/agents_app/agent/{agent.pk}/change/")
        act(page, "drain_agent", "Drain")
        wait_for(lambda: not Agent.objects.get(pk=agent.pk).schedulable, 10, "the agent to drain")
        page.goto(f"{stack.url}/admin/agents_app/agent/{agent.pk}/change/")
        act(page, "undrain_agent", "Undrain")
        wait_for(lambda: Agent.objects.get(pk=agent.pk).schedulable, 10, "the agent to undrain")

        # domain admin: its own domain only, and a terminal into its domain's session
        console_login(page, stack, domain_admin.user.email)
        shot(page, "dashboard-domain-admin")
        assert "far-away-wait" not in page.content()
        assert 'id="capacity-groups"' in page.content()
        open_terminal_from_session_page(page, stack, session, "domain-admin")

        # monitor: reads its domain, finds no button that acts
        console_login(page, stack, monitor.user.email)
        shot(page, "dashboard-monitor")
        assert "far-away-wait" not in page.content()
        page.goto(f"{stack.url}/admin/sessions_app/session/{session.pk}/change/")
        shot(page, "session-page-monitor")
        assert page.get_by_text("console-e2e").count() > 0  # the page itself is readable
        acting = "restart_session destroy_session open_terminal open_app change_priority"
        for method in acting.split():
            assert page.locator(f"a[href*='/{method}/']").count() == 0, method
        assert page.get_by_text("Open terminal", exact=True).count() == 0
