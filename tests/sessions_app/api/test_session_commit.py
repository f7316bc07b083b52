"""`POST /session/{ref}/commit` and `/imagify` against real Postgres and Redis: who may, what is
validated, the `commit_kernel` the agent gets, and how the agent's answer becomes catalog entries
and background-task events (the agent itself is recorded, not run; the real one is exercised by
tests/integration/sessions/test_session_commit.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from agents_app import tasks as agent_tasks
from agents_app.models import Image
from agents_app.schemas import CommitKernel, KernelCommitted, KernelCommitUpdated, LocalImage
from backendai_site.accounts.enums import UserRole
from backendai_site.common.bgtask import bgtask_owner, bgtask_replay_key
from backendai_site.common.redis import get_redis
from sessions_app.models import Session
from sessions_app.scheduler.runner import schedule_resource_group
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services import commit, lifecycle
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials
from tests.helpers.lifecycle import Sent, started_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    recorded: Sent = []

    def record(*, agent_id: str, command: str, payload: Any) -> None:
        recorded.append((agent_id, str(command), payload))

    monkeypatch.setattr(lifecycle, "agent_command_send", record)
    monkeypatch.setattr(commit, "agent_command_send", record)
    return recorded


@pytest.fixture
def running(
    world: ComputeWorld, sent: Sent, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Session:
    """A RUNNING single-kernel session of `world.user`, named My_Box."""
    with django_capture_on_commit_callbacks(execute=True):
        session = session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate(
                {"image": "python", "name": "My_Box", "enqueueOnly": True,
                 "config": {"resources": {"cpu": "1", "mem": "1g"}}}
            ),
        ).session  # fmt: skip
        schedule_resource_group(world.group.pk)
    lifecycle.on_kernel_started(started_event(session.kernels.get()))
    session.refresh_from_db()
    sent.clear()
    return session


Post = Callable[[Credentials, str], Any]


@pytest.fixture
def signed_post(client: Client, django_capture_on_commit_callbacks: Callable[..., Any]) -> Post:
    """POST signed by `creds`, running what the view left for after its commit (the command)."""

    def call(creds: Credentials, rel_url: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return api_call(client, creds, "POST", rel_url)

    return call


def events_of(task_id: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in get_redis().lrange(bgtask_replay_key(task_id), 0, -1)]


class TestCommitRequest:
    def test_commit_starts_a_task_and_sends_commit_kernel_to_the_agent(
        self,
        signed_post: Post,
        world: ComputeWorld,
        running: Session,
        sent: Sent,
    ) -> None:
        response = signed_post(world.user, "/session/My_Box/commit")

        assert response.status_code == 200, response.content
        body = response.json()
        task_id = body["task_id"]
        assert body["bgtask_id"] == task_id
        assert bgtask_owner(uuid.UUID(task_id)) == str(world.user.user.pk)
        assert [e["event"] for e in events_of(task_id)] == ["bgtask_updated"]
        ((agent_id, command, payload),) = sent
        assert (agent_id, command) == (world.agent.pk, "commit_kernel")
        assert isinstance(payload, CommitKernel)
        kernel = running.kernels.get()
        assert (payload.kernel_id, payload.session_id, payload.task_id) == (
            str(kernel.pk), str(running.pk), task_id,
        )  # fmt: skip
        assert payload.repository == "commit/my-box"
        assert body["image"] == f"commit/my-box:{payload.tag}"
        assert payload.labels["ai.backend.commit.source-image"] == world.image.canonical

    def test_imagify_names_the_image_and_answers_the_task_id(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        response = signed_post(world.user, f"/session/{running.pk}/imagify?image_name=tools/py:v2")

        assert response.status_code == 200, response.content
        ((_, _, payload),) = sent
        assert (payload.repository, payload.tag) == ("commit/tools/py", "v2")
        assert response.json()["image"] == "commit/tools/py:v2"

    @pytest.mark.parametrize(
        "name", ["Upper", "registry.example.com:5000/x", "a//b", "x:", "a" * 200, "a b"]
    )
    def test_a_bad_image_name_is_refused(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent, name: str
    ) -> None:
        response = signed_post(world.user, f"/session/My_Box/imagify?image_name={name}")

        assert response.status_code == 400
        assert problem_type(response) == "invalid-image-name"
        assert sent == []

    def test_imagify_without_a_name_is_refused(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        response = signed_post(world.user, "/session/My_Box/imagify")

        assert response.status_code == 400 and problem_type(response) == "invalid-api-params"
        assert sent == []

    def test_an_existing_image_name_is_not_replaced(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        Image.objects.create(name="commit/taken", tag="v1", architecture="x86_64", labels={})

        response = signed_post(world.user, "/session/My_Box/imagify?image_name=taken:v1")

        assert response.status_code == 409 and problem_type(response) == "image-already-exists"
        assert sent == []

    def test_a_session_that_is_not_running_cannot_be_committed(
        self, signed_post: Post, world: ComputeWorld, sent: Sent
    ) -> None:
        session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate(
                {"image": "python", "name": "waiting", "enqueueOnly": True}
            ),
        )

        response = signed_post(world.user, "/session/waiting/commit")

        assert response.status_code == 409 and problem_type(response) == "session-not-running"
        assert sent == []


class TestWhoMayCommit:
    def test_another_user_does_not_find_the_session(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        other = make_member(world.project, "other@example.com")

        response = signed_post(other, f"/session/{running.pk}/commit")

        assert response.status_code == 404 and sent == []

    def test_a_monitor_may_view_but_not_commit(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        monitor = make_member(world.project, "monitor@example.com", UserRole.MONITOR)

        response = signed_post(monitor, f"/session/{running.pk}/commit")

        assert response.status_code == 403
        assert problem_type(response) == "session-action-not-permitted" and sent == []

    def test_an_admin_commits_another_users_session_and_owns_the_task(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        key = world.user.access_key
        response = signed_post(world.admin, f"/session/My_Box/commit?owner_access_key={key}")

        assert response.status_code == 200, response.content
        task_id = uuid.UUID(response.json()["task_id"])
        assert bgtask_owner(task_id) == str(world.admin.user.pk)
        assert len(sent) == 1


class TestAgentAnswers:
    def _start(self, signed_post: Post, world: ComputeWorld) -> str:
        response = signed_post(world.user, "/session/My_Box/imagify?image_name=kept")
        assert response.status_code == 200, response.content
        return str(response.json()["task_id"])

    def test_progress_and_completion_become_task_events_and_a_catalog_image(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        task_id = self._start(signed_post, world)
        ((_, _, payload),) = sent
        ids = {"agent_id": world.agent.pk, "kernel_id": payload.kernel_id, "task_id": task_id}
        ref = f"{payload.repository}:{payload.tag}"
        labels = {"ai.backend.kernelspec": "1", "ai.backend.service-ports": "http:http:8080"}

        agent_tasks.kernel_commit_updated(
            KernelCommitUpdated.model_validate(
                {**ids, "current_progress": 1, "total_progress": 3, "message": "copying"}
            ).model_dump(mode="json")
        )
        agent_tasks.kernel_committed(
            KernelCommitted.model_validate(
                {**ids, "ok": True, "image": LocalImage(ref=ref, labels=labels, digest="sha256:1")}
            ).model_dump(mode="json")
        )

        events = events_of(task_id)
        assert [e["event"] for e in events] == ["bgtask_updated", "bgtask_updated", "bgtask_done"]
        assert events[1]["data"] == {
            "task_id": task_id, "current_progress": 1, "total_progress": 3, "message": "copying",
        }  # fmt: skip
        assert events[2]["data"]["image"] == ref
        image = Image.objects.get(registry=None, name="commit/kept", tag=payload.tag)
        assert image.service_ports[0]["name"] == "http" and image.digest == "sha256:1"

    def test_a_failed_commit_fails_the_task_and_catalogs_nothing(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        task_id = self._start(signed_post, world)
        ((_, _, payload),) = sent

        agent_tasks.kernel_committed(
            KernelCommitted(
                agent_id=world.agent.pk,
                kernel_id=payload.kernel_id,
                task_id=task_id,
                ok=False,
                error="docker commit failed: no space left",
            ).model_dump(mode="json")
        )

        final = events_of(task_id)[-1]
        assert final["event"] == "bgtask_failed"
        assert final["data"]["message"] == "docker commit failed: no space left"
        assert not Image.objects.filter(name="commit/kept").exists()

    def test_an_image_without_kernel_labels_fails_the_task(
        self, signed_post: Post, world: ComputeWorld, running: Session, sent: Sent
    ) -> None:
        task_id = self._start(signed_post, world)
        ((_, _, payload),) = sent
        ref = f"{payload.repository}:{payload.tag}"

        agent_tasks.kernel_committed(
            KernelCommitted(
                agent_id=world.agent.pk,
                kernel_id=payload.kernel_id,
                task_id=task_id,
                ok=True,
                image=LocalImage(ref=ref, labels={}),
            ).model_dump(mode="json")
        )

        assert events_of(task_id)[-1]["event"] == "bgtask_failed"
        assert not Image.objects.filter(name="commit/kept").exists()
