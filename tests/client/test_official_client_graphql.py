"""The official CLI's GraphQL-based commands (`ps`, `session info`, `image list`, `admin keypair
info`) against the live ASGI server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sessions_app.models import Session
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]


def enqueue(creds: Credentials, name: str) -> Session:
    return session_enqueue(
        requester=creds.keypair,
        request=SessionCreateRequest.model_validate(
            {"image": "python", "name": name, "enqueueOnly": True}
        ),
    ).session


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

    def test_unsupported_filter_is_a_clean_graphql_error(
        self, run_cli: Callable[..., Any], world: ComputeWorld
    ) -> None:
        result = run_cli(world.user, "ps", "--filter", 'name == "x"')

        assert result.returncode != 0
        assert "filter expressions are not supported" in output(result)
        assert "Traceback" not in output(result)
