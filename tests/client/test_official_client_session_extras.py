"""Session extras with the official CLI and SDK (issue 12 item 7) against the live ASGI
server, without Docker: `session show-graph`, `task-logs`, `session logs` of a finished batch
session, and the SDK's `get_or_create` with its own defaults (nulls). The Docker-backed half
(real batch output, completion, `run FILE`) is tests/integration/sessions/test_session_extras.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from django.utils import timezone

from backendai_site.common.bgtask import bgtask_publish, bgtask_register
from sessions_app.enums import KernelStatus, SessionResult, SessionStatus, SessionType
from sessions_app.models import Kernel, Session
from tests.factories.sessions import (
    SessionFactory,
    owner_session_kwargs,
    session_dependency_create,
)
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

CLI = Callable[..., Any]

GET_OR_CREATE_SDK = """
import sys
from ai.backend.client.session import Session
with Session() as api:
    created = api.ComputeSession.get_or_create("python", name=sys.argv[1], enqueue_only=True)
    print("created", created.id, created.status)
"""


def output(result: Any) -> str:
    return str(result.stdout + result.stderr)


def ok(result: Any) -> str:
    assert result.returncode == 0, output(result)
    assert "Traceback" not in output(result)
    return output(result)


def _session(world: ComputeWorld, creds: Credentials, name: str, **fields: Any) -> Session:
    return cast(
        Session,
        SessionFactory(
            name=name,
            project=world.project,
            resource_group=world.group,
            image=world.image,
            **owner_session_kwargs(creds.keypair),
            **fields,
        ),
    )


class TestShowGraph:
    def test_tree_and_table_show_the_dependencies(self, run_cli: CLI, world: ComputeWorld) -> None:
        root = _session(world, world.user, "graph-root-1", status=SessionStatus.PENDING)
        dep = _session(
            world,
            world.user,
            "graph-prep-1",
            status=SessionStatus.TERMINATED,
            status_changed=timezone.now(),
        )
        session_dependency_create(session=root, depends_on=dep)

        tree = ok(run_cli(world.user, "session", "show-graph", root.name))
        table = ok(run_cli(world.user, "session", "show-graph", "--table", root.name))

        # the client names a node by the second-to-last '-' part of its session name
        assert 'root ("PENDING")' in tree
        assert 'prep ("TERMINATED"' in tree and " ago)" in tree
        assert "graph-prep-1" in table and "graph-root-1" in table
        assert table.index("graph-prep-1") < table.index("graph-root-1")  # dependencies first


class TestTaskLogs:
    def test_a_background_task_log_for_its_owner_and_not_for_others(
        self, run_cli: CLI, world: ComputeWorld
    ) -> None:
        task_id = bgtask_register(owner_id=world.user.keypair.user_id)
        bgtask_publish(task_id, "bgtask_updated", {"current_progress": 3, "total_progress": 4})
        bgtask_publish(task_id, "bgtask_done", {"message": "all copied"})
        other = make_member(world.project, "tasklogs-other@example.com")

        mine = ok(run_cli(world.user, "task-logs", str(task_id)))
        theirs = run_cli(other, "task-logs", str(task_id))

        assert "bgtask_updated 3/4" in mine and "bgtask_done all copied" in mine
        assert theirs.returncode != 0
        assert "all copied" not in output(theirs)
        assert "Traceback" not in output(theirs)

    def test_a_batch_task_log_by_its_kernel_id(self, run_cli: CLI, world: ComputeWorld) -> None:
        session = _session(world, world.user, "task-batch-1", status=SessionStatus.TERMINATED)
        kernel = Kernel.objects.get(session=session)
        Kernel.objects.filter(pk=kernel.pk).update(logs="batch said hello\n")

        text = ok(run_cli(world.user, "task-logs", str(kernel.pk)))

        assert "batch said hello" in text


class TestFinishedBatchLogs:
    def test_session_logs_shows_the_kept_output(self, run_cli: CLI, world: ComputeWorld) -> None:
        session = _session(
            world,
            world.user,
            "batch-done-1",
            session_type=SessionType.BATCH,
            status=SessionStatus.TERMINATED,
            result=SessionResult.FAILURE,
        )
        Kernel.objects.filter(session=session).update(
            status=KernelStatus.TERMINATED, logs="to stdout\nto stderr\n"
        )

        text = ok(run_cli(world.user, "session", "logs", session.name))

        assert "to stdout" in text and "to stderr" in text


class TestSdkDefaults:
    def test_get_or_create_without_envs_is_accepted(
        self, world: ComputeWorld, official_client: Path, live_api_server: Any, tmp_path: Path
    ) -> None:
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
            "BACKEND_ENDPOINT": live_api_server.url, "BACKEND_ENDPOINT_TYPE": "api",
            "BACKEND_ACCESS_KEY": world.user.access_key,
            "BACKEND_SECRET_KEY": world.user.secret_key,
        }  # fmt: skip

        result = subprocess.run(
            [str(official_client.parent / "python"), "-c", GET_OR_CREATE_SDK, "sdk-nulls-1"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

        assert result.returncode == 0, output(result)
        assert "created" in result.stdout
        session = Session.objects.get(name="sdk-nulls-1")
        assert session.environ == {}
        assert session.priority == 10
