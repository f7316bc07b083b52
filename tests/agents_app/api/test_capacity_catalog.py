"""`/resource/presets`, `/resource/check-presets`, `/config/resource-slots`, `/scaling-groups`,
`/resource/container-registries` by role."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from agents_app.enums import SlotType
from agents_app.models import ContainerRegistry, ResourcePreset
from backendai_site.accounts.enums import UserRole
from tests.factories.agents import AgentResourceFactory, ResourceGroupFactory
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.api import api_call, problem_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def presets(world: ComputeWorld) -> None:
    private = ResourceGroupFactory.create(name="private", is_public=False)
    ResourcePreset.objects.all().delete()  # the defaults the migration seeds
    ResourcePreset.objects.create(name="small", resource_slots={"cpu": "1", "mem": "1g"})
    ResourcePreset.objects.create(name="huge", resource_slots={"cpu": "64", "mem": "512g"})
    ResourcePreset.objects.create(
        name="hidden", resource_slots={"cpu": "1"}, resource_group=private
    )


class TestPresets:
    def test_lists_global_and_usable_group_presets(
        self, client: Client, world: ComputeWorld, presets: None
    ) -> None:
        response = api_call(client, world.user, "GET", "/resource/presets")

        assert response.status_code == 200
        rows = {p["name"]: p for p in response.json()["presets"]}
        assert set(rows) == {"small", "huge"}
        assert rows["small"]["resource_slots"] == {"cpu": "1", "mem": str(1024**3)}
        assert rows["small"]["shared_memory"] is None

    def test_unusable_scaling_group_is_404(
        self, client: Client, world: ComputeWorld, presets: None
    ) -> None:
        response = api_call(client, world.user, "GET", "/resource/presets?scaling_group=private")

        assert response.status_code == 404
        assert problem_type(response) == "resource-group-not-found"

    def test_check_presets_says_what_fits(
        self, client: Client, world: ComputeWorld, presets: None
    ) -> None:
        response = api_call(
            client, world.user, "POST", "/resource/check-presets", {"group": "default"}
        )

        assert response.status_code == 200
        body = response.json()
        allocatable = {p["name"]: p["allocatable"] for p in body["presets"]}
        assert allocatable == {"small": True, "huge": False}
        assert body["scaling_groups"]["default"]["remaining"]["cpu"] == "4"
        assert body["keypair_remaining"]["cpu"] == "Infinity"
        assert body["group_using"]["cpu"] == "0"
        for key in ("keypair_limits", "user_remaining", "group_limits", "scaling_group_remaining"):
            assert key in body

    def test_check_presets_of_a_project_not_joined_is_400(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = api_call(
            client, world.user, "POST", "/resource/check-presets", {"group": "nope"}
        )

        assert response.status_code == 400
        assert problem_type(response) == "project-not-found"


class TestResourceSlots:
    def test_known_slots_and_units(self, client: Client, world: ComputeWorld) -> None:
        AgentResourceFactory.create(
            agent=world.agent,
            slot_name="cuda.shares",
            capacity=Decimal(2),
            slot_type=SlotType.COUNT,
        )

        response = api_call(client, world.user, "GET", "/config/resource-slots")

        assert response.json() == {"cpu": "count", "cuda.shares": "count", "mem": "bytes"}


class TestScalingGroups:
    def test_groups_the_project_may_use(self, client: Client, world: ComputeWorld) -> None:
        ResourceGroupFactory.create(name="private", is_public=False)

        response = api_call(client, world.user, "GET", "/scaling-groups?group=default")

        assert response.json() == {"scaling_groups": [{"name": "default"}]}

    def test_missing_group_is_400(self, client: Client, world: ComputeWorld) -> None:
        response = api_call(client, world.user, "GET", "/scaling-groups")

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"


class TestContainerRegistries:
    def test_superadmin_only(self, client: Client, world: ComputeWorld) -> None:
        ContainerRegistry.objects.create(name="127.0.0.1:5000", url="http://127.0.0.1:5000")
        admin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)

        listed = api_call(client, world.admin, "GET", "/resource/container-registries")
        refused = [
            api_call(client, creds, "GET", "/resource/container-registries")
            for creds in (admin, world.user)
        ]

        assert listed.json()["127.0.0.1:5000"][""] == "http://127.0.0.1:5000"
        assert "password" not in listed.json()["127.0.0.1:5000"]
        assert [r.status_code for r in refused] == [403, 403]
