"""`/manager/scheduler/operation`: include/exclude agents, honoured by the scheduler."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from agents_app.models import Agent
from sessions_app.enums import SessionStatus
from sessions_app.scheduler.runner import schedule_resource_group
from tests.factories.world import ComputeWorld, add_agent
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials
from tests.helpers.sessions import enqueue

pytestmark = pytest.mark.django_db

URL = "/manager/scheduler/operation"


class TestSchedulerOperation:
    def test_excluded_agents_get_no_new_sessions_until_included(
        self, client: Client, world: ComputeWorld
    ) -> None:
        excluded = api_call(client, world.admin, "POST", URL,
                            {"op": "exclude-agents", "args": [world.agent.pk]})  # fmt: skip
        session = enqueue(world.user, "waits")
        schedule_resource_group(world.group.pk, now=timezone.now())
        session.refresh_from_db()

        assert excluded.status_code == 204
        assert Agent.objects.get(pk=world.agent.pk).schedulable is False
        assert session.status == SessionStatus.PENDING

        included = api_call(client, world.admin, "POST", URL,
                            {"op": "include-agents", "args": [world.agent.pk]})  # fmt: skip
        schedule_resource_group(world.group.pk, now=timezone.now())
        session.refresh_from_db()

        assert included.status_code == 204
        assert session.status == SessionStatus.SCHEDULED

    def test_sessions_go_to_the_agents_still_included(
        self, client: Client, world: ComputeWorld
    ) -> None:
        other = add_agent(world.group)
        api_call(
            client, world.admin, "POST", URL, {"op": "exclude-agents", "args": [world.agent.pk]}
        )
        session = enqueue(world.user, "placed")

        schedule_resource_group(world.group.pk, now=timezone.now())

        kernel = session.kernels.get()
        assert kernel.agent_id == other.pk

    def test_unknown_agents_change_nothing(self, client: Client, world: ComputeWorld) -> None:
        body = {"op": "exclude-agents", "args": [world.agent.pk, "i-nowhere"]}

        response = api_call(client, world.admin, "POST", URL, body)

        assert response.status_code == 404
        assert problem_type(response) == "agent-not-found"
        assert response.json()["data"] == {"missing": ["i-nowhere"]}
        assert Agent.objects.get(pk=world.agent.pk).schedulable is True

    @pytest.mark.parametrize("who", ["user", "domain_admin"])
    def test_only_a_superadmin_may(
        self, client: Client, world: ComputeWorld, domain_admin: Credentials, who: str
    ) -> None:
        creds = world.user if who == "user" else domain_admin

        response = api_call(client, creds, "POST", URL,
                            {"op": "exclude-agents", "args": [world.agent.pk]})  # fmt: skip

        assert response.status_code == 403
        assert problem_type(response) == "superadmin-required"
        assert Agent.objects.get(pk=world.agent.pk).schedulable is True

    @pytest.mark.parametrize(
        "body",
        [{"op": "drain", "args": ["a"]}, {"op": "exclude-agents", "args": []},
         {"op": "exclude-agents"}, {"op": "exclude-agents", "args": [""]}],
    )  # fmt: skip
    def test_bad_input_is_400(self, client: Client, world: ComputeWorld, body: object) -> None:
        response = api_call(client, world.admin, "POST", URL, body)

        assert response.status_code == 400
        assert problem_type(response) == "invalid-api-params"
