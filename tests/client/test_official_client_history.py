"""`backend.ai scheduling-history session list` against the live ASGI server: the client parses
our records into its DTOs, renders them, and each caller sees only what it may view."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sessions_app.enums import SessionStatus
from tests.client.test_official_client_rest_extras import ok
from tests.factories.world import ComputeWorld, make_member
from tests.sessions_app.api.test_scheduling_history import REQUEUED, session_with_moves

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

CLI = Callable[..., Any]


def test_history_listed_filtered_and_scoped(run_cli: CLI, world: ComputeWorld) -> None:
    mine = session_with_moves(world, world.user, REQUEUED)
    other = make_member(world.project, "other@example.com")
    theirs = session_with_moves(world, other, [(SessionStatus.PENDING, "enqueued")])

    table = ok(run_cli(world.user, "scheduling-history", "session", "list"))
    assert "insufficient-resource" in table
    assert str(theirs.pk)[:8] not in table

    raw = ok(run_cli(world.user, "scheduling-history", "session", "list", "--json",
                     "--result", "FAILURE"))  # fmt: skip
    records = json.loads(raw[raw.index("[") :])
    assert [(r["from_status"], r["to_status"], r["error_code"]) for r in records] == [
        ("PREPARING", "PENDING", "insufficient-resource")
    ]
    assert records[0]["session_id"] == str(mine.pk)

    mine_only = ok(run_cli(world.admin, "scheduling-history", "session", "list", "--json",
                           "--session-id", str(mine.pk), "--limit", "100"))  # fmt: skip
    assert len(json.loads(mine_only[mine_only.index("[") :])) == len(REQUEUED)
    everyone = ok(run_cli(world.admin, "scheduling-history", "session", "list", "--json"))
    assert {r["session_id"] for r in json.loads(everyone[everyone.index("[") :])} == {
        str(mine.pk),
        str(theirs.pk),
    }
