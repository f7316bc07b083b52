"""The official CLI's GraphQL-based commands (`ps`, `session info`, `image list`, `admin keypair
info`) against the live ASGI server."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials
from tests.helpers.sessions import enqueue

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]


def output(result: Any) -> str:
    return str(result.stdout + result.stderr)


class TestGraphQLCommands:
    def test_ps_lists_only_the_callers_sessions(
        self, run_cli: Callable[..., Any], world: ComputeWorld
    ) -> None:
        enqueue(world.user, "gql-mine")
        other = make_member(world.project, "gql-other@example.com")
        enqueue(other, "gql-theirs")

        result = run_cli(world.user, "ps")

        assert result.returncode == 0, output(result)
        assert "gql-mine" in result.stdout and "PENDING" in result.stdout
        assert "gql-theirs" not in result.stdout

    def test_admin_ps_sees_everyone(self, run_cli: Callable[..., Any], world: ComputeWorld) -> None:
        enqueue(world.user, "gql-user1")

        result = run_cli(world.admin, "ps")

        assert result.returncode == 0, output(result)
        assert "gql-user1" in result.stdout

    def test_session_info_and_unknown_session(
        self, run_cli: Callable[..., Any], world: ComputeWorld
    ) -> None:
        session = enqueue(world.user, "gql-info1")

        found = run_cli(world.user, "session", "info", str(session.pk))
        missing = run_cli(world.user, "session", "info", "00000000-0000-0000-0000-000000000001")

        assert found.returncode == 0, output(found)
        assert "gql-info1" in found.stdout
        assert "There is no such compute session" in output(missing)

    def test_image_list_and_keypair_info(
        self, run_cli: Callable[..., Any], world: ComputeWorld
    ) -> None:
        images = run_cli(world.user, "image", "list")
        keypair = run_cli(world.user, "admin", "keypair", "info")

        assert images.returncode == 0, output(images)
        assert "bai/python" in images.stdout and "python" in images.stdout
        assert keypair.returncode == 0, output(keypair)
        assert world.user.access_key in keypair.stdout
        assert world.user.secret_key not in keypair.stdout  # secrets are shown once

    def test_ps_filter_and_order(self, run_cli: Callable[..., Any], world: ComputeWorld) -> None:
        enqueue(world.user, "gql-f-alpha")
        enqueue(world.user, "gql-f-beta")

        filtered = run_cli(world.user, "ps", "--filter", 'name like "%alpha"')
        ordered = run_cli(world.user, "ps", "--order", "-name")
        bad = run_cli(world.user, "ps", "--filter", 'password == "x"')

        assert filtered.returncode == 0, output(filtered)
        assert "gql-f-alpha" in filtered.stdout and "gql-f-beta" not in filtered.stdout
        assert ordered.stdout.index("gql-f-beta") < ordered.stdout.index("gql-f-alpha")
        assert bad.returncode != 0
        assert "cannot filter by 'password'" in output(bad)
        assert "Traceback" not in output(bad)


SET_PRIORITY_SDK = """
import sys, uuid
from ai.backend.client.session import Session
with Session() as api:
    s = api.ComputeSession.from_session_id(uuid.UUID(sys.argv[1]))
    print(s.update(priority=int(sys.argv[2])))
"""


class TestSetPriority:
    def test_cli_fails_client_side_and_the_sdk_sets_it(
        self,
        run_cli: Callable[..., Any],
        world: ComputeWorld,
        official_client: Path,
        live_api_server: Any,
        tmp_path: Path,
    ) -> None:
        session = enqueue(world.user, "gql-prio")

        cli = run_cli(world.admin, "session", "set-priority", str(session.pk), "40")
        env = {
            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
            "BACKEND_ENDPOINT": live_api_server.url, "BACKEND_ENDPOINT_TYPE": "api",
        }  # fmt: skip

        def sdk(creds: Credentials, priority: str) -> subprocess.CompletedProcess[str]:
            keys = {"BACKEND_ACCESS_KEY": creds.access_key, "BACKEND_SECRET_KEY": creds.secret_key}
            return subprocess.run(
                [str(official_client.parent / "python"), "-c", SET_PRIORITY_SDK,
                 str(session.pk), priority],
                env=env | keys, cwd=tmp_path, capture_output=True, text=True, timeout=60,
            )  # fmt: skip

        monitor = make_member(world.project, "gql-mon@example.com", UserRole.MONITOR)
        by_monitor = sdk(monitor, "90")
        by_admin = sdk(world.admin, "40")

        # the CLI builds the session from its name and never has the UUID update() requires
        assert cli.returncode != 0 and "must have a valid session ID" in output(cli)
        assert by_admin.returncode == 0, output(by_admin)
        assert "'priority': 40" in by_admin.stdout
        assert by_monitor.returncode != 0 and "monitors only watch" in output(by_monitor)
        session.refresh_from_db()
        assert session.priority == 40
