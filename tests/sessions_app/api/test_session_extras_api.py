"""Session extras of issue 12 item 7 through the API: the dependency graph in the shape
`show-graph` parses, logs of a finished batch session, task logs, and code completion."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from django.test import Client

from backendai_site.common.bgtask import bgtask_publish, bgtask_register
from sessions_app.enums import KernelStatus, SessionResult, SessionStatus, SessionType
from sessions_app.models import Kernel, Session
from sessions_app.services.execute import ExecuteRequest, KernelEndpoint, session_execute
from tests.factories.sessions import (
    SessionFactory,
    owner_session_kwargs,
    session_dependency_create,
)
from tests.helpers.credentials import Credentials, make_credentials, signed_headers
from tests.helpers.host_runner import host_runner_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _session(creds: Credentials, name: str, **fields: Any) -> Session:
    return cast(
        Session,
        SessionFactory(name=name, **owner_session_kwargs(creds.keypair), **fields),
    )


def _get(creds: Credentials, url: str) -> Any:
    headers = signed_headers(
        access_key=creds.access_key, secret_key=creds.secret_key, method="GET", rel_url=url
    )
    return Client().get(url, **headers)


def _client_status(node: dict[str, Any]) -> str:
    """What the client shows (cli/session/lifecycle.py get_node_name)."""
    status = node["status"].split("KernelStatus.")[1]
    if node["status_changed"] != "None":
        datetime.strptime(node["status_changed"].split(".")[0], "%Y-%m-%d %H:%M:%S")
    return str(status)


class TestDependencyGraph:
    def test_nodes_have_the_fields_and_formats_the_client_parses(self) -> None:
        owner = make_credentials()
        changed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # no microseconds: the hard case
        root = _session(owner, "job-root-1", status=SessionStatus.PENDING)
        first = _session(
            owner, "job-first-1", status=SessionStatus.TERMINATED, status_changed=changed
        )
        second = _session(owner, "job-second-1", status=SessionStatus.RUNNING)
        shared = _session(owner, "job-shared-1", status=SessionStatus.TERMINATED)
        session_dependency_create(session=root, depends_on=first)
        session_dependency_create(session=root, depends_on=second)
        session_dependency_create(session=first, depends_on=shared)
        session_dependency_create(session=second, depends_on=shared)

        graph = _get(owner, f"/session/{root.name}/dependency-graph").json()

        assert graph["session_name"] == "job-root-1"
        assert graph["session_id"] == str(root.pk)
        assert _client_status(graph) == "PENDING"
        children = {node["session_name"]: node for node in graph["depends_on"]}
        assert set(children) == {"job-first-1", "job-second-1"}
        assert _client_status(children["job-first-1"]) == "TERMINATED"
        assert children["job-first-1"]["status_changed"].startswith("2026-01-02 03:04:05.")
        for child in children.values():  # the shared dependency appears under both parents
            assert [node["session_name"] for node in child["depends_on"]] == ["job-shared-1"]
            assert child["depends_on"][0]["depends_on"] == []


class TestBatchSessionLogs:
    def test_a_finished_batch_session_shows_its_kept_output(self) -> None:
        owner = make_credentials()
        session = _session(
            owner,
            "batch-logs-1",
            session_type=SessionType.BATCH,
            status=SessionStatus.TERMINATED,
            result=SessionResult.SUCCESS,
        )
        Kernel.objects.filter(session=session).update(
            status=KernelStatus.TERMINATED, logs="out line\nerr line\n"
        )

        response = _get(owner, f"/session/{session.name}/logs")

        assert response.status_code == 200
        assert response.json() == {"result": {"logs": "out line\nerr line\n"}}


class TestTaskLogs:
    def test_a_background_task_shows_its_progress_to_its_owner_only(self) -> None:
        owner, other = make_credentials(), make_credentials()
        task_id = bgtask_register(owner_id=owner.keypair.user_id)
        bgtask_publish(task_id, "bgtask_updated", {"current_progress": 1, "total_progress": 2})
        bgtask_publish(task_id, "bgtask_done", {"message": "cloned"})

        mine = _get(owner, f"/session/_/logs?taskId={task_id}")
        theirs = _get(other, f"/session/_/logs?taskId={task_id}")

        assert mine.status_code == 200
        assert mine["Content-Type"].startswith("text/plain")
        assert mine.content.decode() == "bgtask_updated 1/2\nbgtask_done cloned\n"
        assert theirs.status_code == 404
        assert theirs.json()["type"].endswith("/task-not-found")

    def test_a_batch_task_by_kernel_or_session_id_shows_its_log(self) -> None:
        owner, other = make_credentials(), make_credentials()
        session = _session(owner, "task-logs-1", status=SessionStatus.TERMINATED)
        kernel = Kernel.objects.get(session=session)
        Kernel.objects.filter(pk=kernel.pk).update(logs="hello from the task\n")

        by_kernel = _get(owner, f"/session/_/logs?taskId={kernel.pk}")
        by_session = _get(owner, f"/session/_/logs?taskId={session.pk}")
        by_other = _get(other, f"/session/_/logs?taskId={kernel.pk}")
        unknown = _get(owner, f"/session/_/logs?taskId={uuid.uuid4()}")
        malformed = _get(owner, "/session/_/logs?taskId=nope")

        assert by_kernel.content.decode() == "hello from the task\n"
        assert by_session.content.decode() == "hello from the task\n"
        assert by_other.status_code == 404 and unknown.status_code == 404
        assert malformed.status_code == 400


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KernelEndpoint]:
    async def _no_touch(session_id: uuid.UUID) -> None:
        return None

    monkeypatch.setattr("sessions_app.services.execute.session_access_touch", _no_touch)
    with host_runner_endpoint(tmp_path) as endpoint:
        yield endpoint


class TestCompletion:
    async def test_complete_answers_the_session_interpreter_candidates(
        self, endpoint: KernelEndpoint
    ) -> None:
        define = ExecuteRequest.model_validate({"mode": "query", "code": "alpha_beta = 1"})
        await session_execute(endpoint=endpoint, request=define)
        body = {"mode": "complete", "code": "alpha_b", "options": {"row": 0, "col": 7}}

        result = await session_execute(
            endpoint=endpoint, request=ExecuteRequest.model_validate(body)
        )

        assert result["status"] == "finished"
        assert result["completions"] == ["alpha_beta"]
        assert json.dumps(result)  # the REST body is plain JSON
