"""The agents app's admin pages: render for superadmins, read-only for monitors, hidden from
domain admins; drain/undrain and rescan actions; write-only registry passwords."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from agents_app.models import Agent, ContainerRegistry, Image, ImageAlias
from backendai_site.accounts.enums import UserRole
from tests.factories.accounts import UserFactory
from tests.factories.agents import (
    AgentFactory,
    AgentResourceFactory,
    ContainerRegistryFactory,
    ImageAliasFactory,
    ResourceGroupFactory,
)

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/agents_app/agent/",
    "/admin/agents_app/resourcegroup/",
    "/admin/agents_app/image/",
    "/admin/agents_app/imagealias/",
    "/admin/agents_app/containerregistry/",
]


def logged_in(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(role=role))
    return client


@pytest.fixture
def agent_with_capacity() -> Agent:
    agent = AgentFactory.create(id="i-admin-node")
    AgentResourceFactory.create(agent=agent, slot_name="cpu", capacity=Decimal(4), used=Decimal(1))
    AgentResourceFactory.create(
        agent=agent, slot_name="mem", slot_type="bytes", capacity=Decimal(8 << 30), used=0
    )
    return agent


@pytest.fixture
def catalog() -> ContainerRegistry:
    registry = ContainerRegistryFactory.create(name="cr.example.com", password="hunter2-secret")
    ImageAliasFactory.create(alias="python")
    ResourceGroupFactory.create(name="gpu")
    return registry


class TestAgentsAdminForSuperadmin:
    @pytest.mark.parametrize("path", PAGES)
    def test_list_pages_render(
        self, path: str, agent_with_capacity: Agent, catalog: ContainerRegistry
    ) -> None:
        client = logged_in(UserRole.SUPERADMIN)

        response = client.get(path)

        assert response.status_code == 200

    def test_agent_list_shows_use_against_capacity_per_slot(
        self, agent_with_capacity: Agent
    ) -> None:
        client = logged_in(UserRole.SUPERADMIN)

        response = client.get("/admin/agents_app/agent/")

        assert b"cpu: 1 CPU / 4 CPUs" in response.content
        assert b"mem: 0 GiB / 8 GiB" in response.content

    def test_agent_change_page_renders(self, agent_with_capacity: Agent) -> None:
        client = logged_in(UserRole.SUPERADMIN)

        response = client.get(f"/admin/agents_app/agent/{agent_with_capacity.pk}/change/")

        assert response.status_code == 200

    def test_drain_and_undrain_actions(self, agent_with_capacity: Agent) -> None:
        client = logged_in(UserRole.SUPERADMIN)
        selection = {"_selected_action": [agent_with_capacity.pk]}

        client.post("/admin/agents_app/agent/", {"action": "drain_agents", **selection})
        drained = Agent.objects.get(pk=agent_with_capacity.pk).schedulable
        client.post("/admin/agents_app/agent/", {"action": "undrain_agents", **selection})

        assert drained is False
        assert Agent.objects.get(pk=agent_with_capacity.pk).schedulable is True

    def test_rescan_action_builds_the_catalog_from_reported_images(self) -> None:
        AgentFactory.create(
            id="i-images",
            local_images=[
                {
                    "ref": "backendai/python:3.11-debian",
                    "architecture": "amd64",
                    "labels": {
                        "ai.backend.kernelspec": "1",
                        "ai.backend.service-ports": "ttyd:http:7681",
                        "ai.backend.resource.min.mem": "256m",
                    },
                },
                {"ref": "debian:bookworm", "labels": {}},
            ],
        )
        client = logged_in(UserRole.SUPERADMIN)

        client.post(
            "/admin/agents_app/agent/",
            {"action": "rescan_images", "_selected_action": ["i-images"]},
        )

        image = Image.objects.get()
        assert (image.name, image.tag, image.architecture) == (
            "backendai/python",
            "3.11-debian",
            "x86_64",
        )
        assert image.min_resources == {"mem": str(256 << 20)}
        assert set(ImageAlias.objects.values_list("alias", flat=True)) == {"python", "python:3.11"}

    def test_registry_password_is_never_rendered(self, catalog: ContainerRegistry) -> None:
        client = logged_in(UserRole.SUPERADMIN)

        listing = client.get("/admin/agents_app/containerregistry/")
        change = client.get(f"/admin/agents_app/containerregistry/{catalog.pk}/change/")

        assert b"hunter2-secret" not in listing.content
        assert b"hunter2-secret" not in change.content

    def test_saving_a_registry_without_a_password_keeps_the_old_one(
        self, catalog: ContainerRegistry
    ) -> None:
        client = logged_in(UserRole.SUPERADMIN)

        response = client.post(
            f"/admin/agents_app/containerregistry/{catalog.pk}/change/",
            {
                "name": catalog.name,
                "type": "docker",
                "url": "https://cr.example.com",
                "project": "bai",
                "username": "robot",
                "password": "",
                "ssl_verify": "on",
                "is_active": "on",
            },
        )

        catalog.refresh_from_db()
        assert response.status_code == 302
        assert (catalog.project, catalog.password) == ("bai", "hunter2-secret")


class TestAgentsAdminForMonitor:
    @pytest.mark.parametrize("path", PAGES)
    def test_list_pages_render(
        self, path: str, agent_with_capacity: Agent, catalog: ContainerRegistry
    ) -> None:
        client = logged_in(UserRole.MONITOR)

        response = client.get(path)

        assert response.status_code == 200

    def test_agent_page_is_read_only(self, agent_with_capacity: Agent) -> None:
        client = logged_in(UserRole.MONITOR)
        url = f"/admin/agents_app/agent/{agent_with_capacity.pk}/change/"

        page = client.get(url)
        post = client.post(url, {"schedulable": ""})
        action = client.post(
            "/admin/agents_app/agent/",
            {"action": "drain_agents", "_selected_action": [agent_with_capacity.pk]},
        )

        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        assert post.status_code == 403
        assert action.status_code in (200, 302)
        assert Agent.objects.get(pk=agent_with_capacity.pk).schedulable is True

    def test_monitor_cannot_add_a_resource_group(self) -> None:
        client = logged_in(UserRole.MONITOR)

        response = client.get("/admin/agents_app/resourcegroup/add/")

        assert response.status_code == 403

    def test_registry_password_is_hidden(self, catalog: ContainerRegistry) -> None:
        client = logged_in(UserRole.MONITOR)

        response = client.get(f"/admin/agents_app/containerregistry/{catalog.pk}/change/")

        assert response.status_code == 200
        assert b"hunter2-secret" not in response.content


class TestAgentsAdminForDomainAdmin:
    @pytest.mark.parametrize("path", PAGES)
    def test_pages_are_forbidden(self, path: str) -> None:
        client = logged_in(UserRole.ADMIN)

        response = client.get(path)

        assert response.status_code == 403
