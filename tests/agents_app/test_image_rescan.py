"""`rescan_images` (`admin image rescan`): started by a superadmin as a background task whose
progress and errors go to the task's event stream; refused to other roles and for an unknown
registry before any task exists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents_app.models import ContainerRegistry, Image
from agents_app.services.image_rescan import images_rescan_run, images_rescan_start
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.common.bgtask import bgtask_owner, bgtask_replay_key
from backendai_site.common.errors import NotFound, PermissionDenied
from backendai_site.common.redis import get_redis
from backendai_site.graphql.schema import schema
from tests.factories.accounts import UserFactory
from tests.factories.agents import AgentFactory
from tests.helpers.credentials import make_credentials

pytestmark = pytest.mark.django_db

RESCAN = """mutation($registry: String, $project: String) {
    rescan_images(registry:$registry, project: $project) { ok msg task_id }
}"""
KERNEL_IMAGE = {
    "ref": "backendai/python:3.11-debian",
    "architecture": "amd64",
    "labels": {"ai.backend.kernelspec": "1"},
}


def events_of(task_id: Any) -> list[dict[str, Any]]:
    raw = get_redis().lrange(bgtask_replay_key(task_id), 0, -1)
    return [json.loads(item) for item in raw]


@pytest.fixture
def superadmin() -> User:
    return UserFactory.create(role=UserRole.SUPERADMIN)


class TestStart:
    def test_a_superadmin_starts_a_task_they_own(self, superadmin: User) -> None:
        task_id = images_rescan_start(actor=superadmin, registry=None, project=None)

        assert bgtask_owner(task_id) == str(superadmin.pk)

    @pytest.mark.parametrize("role", [UserRole.ADMIN, UserRole.USER, UserRole.MONITOR])
    def test_other_roles_are_refused(self, role: UserRole) -> None:
        with pytest.raises(PermissionDenied):
            images_rescan_start(actor=UserFactory.create(role=role), registry=None, project=None)

    def test_an_unknown_registry_is_refused(self, superadmin: User) -> None:
        ContainerRegistry.objects.create(name="127.0.0.1:5000", url="http://127.0.0.1:5000")

        with pytest.raises(NotFound, match="nowhere"):
            images_rescan_start(actor=superadmin, registry="nowhere", project=None)
        with pytest.raises(NotFound, match="other"):
            images_rescan_start(actor=superadmin, registry="127.0.0.1:5000", project="other")


class TestRun:
    def test_the_agents_images_enter_the_catalog_with_progress(self, superadmin: User) -> None:
        AgentFactory.create(id="i-scan", local_images=[KERNEL_IMAGE])
        task_id = images_rescan_start(actor=superadmin, registry=None, project=None)

        result = images_rescan_run(task_id=str(task_id), registry_ids=[], include_agents=True)

        assert result.created == 1
        assert Image.objects.get().name == "backendai/python"
        events = events_of(task_id)
        assert [e["event"] for e in events] == ["bgtask_updated", "bgtask_done"]
        assert events[0]["data"]["current_progress"] == events[0]["data"]["total_progress"] == 1
        assert events[-1]["data"]["errors"] == []

    def test_an_unreachable_registry_is_reported_and_the_rest_still_scanned(
        self, superadmin: User
    ) -> None:
        AgentFactory.create(id="i-scan", local_images=[KERNEL_IMAGE])
        broken = ContainerRegistry.objects.create(name="127.0.0.1:9", url="http://127.0.0.1:9")
        task_id = images_rescan_start(actor=superadmin, registry=None, project=None)

        images_rescan_run(task_id=str(task_id), registry_ids=[broken.pk], include_agents=True)

        events = events_of(task_id)
        assert [e["event"] for e in events] == ["bgtask_updated"] * 2 + ["bgtask_done"]
        (error,) = events[-1]["data"]["errors"]
        assert error.startswith("127.0.0.1:9: ")
        assert Image.objects.filter(name="backendai/python").exists()


class TestMutation:
    def run(self, role: UserRole, **variables: Any) -> Any:
        creds = make_credentials(role=role)
        return schema.execute(RESCAN, variables=variables, context_value={"keypair": creds.keypair})

    def test_a_superadmin_gets_a_task_id(self) -> None:
        result = self.run(UserRole.SUPERADMIN)

        assert result.errors is None
        assert result.data["rescan_images"]["ok"] is True
        assert result.data["rescan_images"]["task_id"]

    def test_an_unknown_registry_is_not_ok(self) -> None:
        result = self.run(UserRole.SUPERADMIN, registry="nowhere")

        assert result.errors is None
        assert result.data["rescan_images"] == {
            "ok": False, "msg": "no active container registry 'nowhere'", "task_id": None,
        }  # fmt: skip

    def test_a_domain_admin_is_refused(self) -> None:
        result = self.run(UserRole.ADMIN)

        assert result.errors and "may not rescan images" in str(result.errors[0])
