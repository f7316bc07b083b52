"""The buttons on an agent's admin page: drain, undrain, rescan; refused to monitors; audited."""

from __future__ import annotations

import pytest
from django.test import Client

from agents_app.models import Agent, Image
from backendai_site.accounts.enums import UserRole
from backendai_site.audit.models import AuditLogEntry
from tests.factories.accounts import UserFactory
from tests.factories.agents import AgentFactory

pytestmark = pytest.mark.django_db

BASE = "/admin/agents_app/agent"
CONFIRM = {"_form_submitted": "on"}
NAMES = ("drain_agent", "undrain_agent", "rescan_agent_images")


@pytest.fixture
def agent() -> Agent:
    return AgentFactory.create(
        id="i-node",
        local_images=[
            {
                "ref": "backendai/python:3.11-debian",
                "architecture": "amd64",
                "labels": {"ai.backend.kernelspec": "1"},
            }
        ],
    )


def logged_in(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(role=role))
    return client


class TestAgentPageButtons:
    def test_a_superadmin_sees_the_buttons(self, agent: Agent) -> None:
        page = logged_in(UserRole.SUPERADMIN).get(f"{BASE}/{agent.pk}/change/")

        for name in NAMES:
            assert f"{BASE}/{agent.pk}/{name}/".encode() in page.content, name

    def test_a_monitor_sees_none(self, agent: Agent) -> None:
        page = logged_in(UserRole.MONITOR).get(f"{BASE}/{agent.pk}/change/")

        assert page.status_code == 200
        for name in NAMES:
            assert f"/{name}/".encode() not in page.content, name


class TestAgentActions:
    def test_drain_then_undrain_are_audited(self, agent: Agent) -> None:
        client = logged_in(UserRole.SUPERADMIN)

        drained = client.post(f"{BASE}/{agent.pk}/drain_agent/", CONFIRM)
        after_drain = Agent.objects.get(pk=agent.pk).schedulable
        client.post(f"{BASE}/{agent.pk}/undrain_agent/", CONFIRM)

        assert drained.status_code == 302
        assert after_drain is False
        assert Agent.objects.get(pk=agent.pk).schedulable is True
        actions = list(
            AuditLogEntry.objects.filter(target_id=agent.pk)
            .order_by("id")
            .values_list("action", "target_type")
        )
        assert actions == [
            ("admin:agents_app_agent_drain_agent", "agents_app.agent"),
            ("admin:agents_app_agent_undrain_agent", "agents_app.agent"),
        ]

    def test_rescan_adds_the_agents_images(self, agent: Agent) -> None:
        logged_in(UserRole.SUPERADMIN).post(f"{BASE}/{agent.pk}/rescan_agent_images/", CONFIRM)

        assert Image.objects.get().name == "backendai/python"

    def test_the_dialog_get_changes_nothing(self, agent: Agent) -> None:
        response = logged_in(UserRole.SUPERADMIN).get(f"{BASE}/{agent.pk}/drain_agent/")

        assert response.status_code == 200
        assert Agent.objects.get(pk=agent.pk).schedulable is True

    @pytest.mark.parametrize("role", [UserRole.MONITOR, UserRole.ADMIN])
    def test_a_forged_post_is_refused(self, agent: Agent, role: str) -> None:
        response = logged_in(role).post(f"{BASE}/{agent.pk}/drain_agent/", CONFIRM)

        assert response.status_code == 403
        assert Agent.objects.get(pk=agent.pk).schedulable is True
