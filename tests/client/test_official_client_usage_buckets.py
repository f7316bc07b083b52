"""`backend.ai resource-usage domain|project|user list` against the live ASGI server: daily usage
buckets built from the usage ledger, parsed by the client's own DTOs, scoped per caller."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sessions_app.services.usage import usage_intervals_record
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.usage import kernel_end, running_kernel_create

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

CLI = Callable[..., Any]
GIB = 1024**3
DAY1 = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)  # runs 90 minutes: 30 on day 1, 60 on day 2


def _ok(result: Any) -> str:
    text = str(result.stdout + result.stderr)
    assert result.returncode == 0 and "Traceback" not in text, text
    return text


def _items(text: str) -> list[dict[str, Any]]:
    return list(json.loads(text[text.index("[") :]))


def _usage(bucket: dict[str, Any]) -> dict[str, str]:
    return {e["resource_type"]: e["quantity"] for e in bucket["resource_usage"]["entries"]}


@pytest.fixture
def ledger(world: ComputeWorld) -> dict[str, Any]:
    other = make_member(world.project, "other@example.com")
    fields = {"domain": world.domain, "project": world.project, "resource_group": world.group}
    mine = running_kernel_create(
        started_at=DAY1, slots={"cpu": "2", "mem": str(GIB)},
        user=world.user.user, access_key=world.user.keypair, **fields,
    )  # fmt: skip
    theirs = running_kernel_create(
        started_at=DAY1, slots={"cpu": "1"}, user=other.user, access_key=other.keypair, **fields
    )
    kernel_end(mine, DAY1 + timedelta(minutes=90))
    kernel_end(theirs, DAY1 + timedelta(minutes=10))
    usage_intervals_record(now=DAY1 + timedelta(days=1))
    return {"other": other}


class TestResourceUsageBuckets:
    def test_domain_buckets_are_days_of_ledger_slot_seconds(
        self, run_cli: CLI, world: ComputeWorld, ledger: dict[str, Any]
    ) -> None:
        out = _ok(run_cli(world.admin, "resource-usage", "domain", "list", "--json",
                          "--domain-name", world.domain.name))  # fmt: skip

        buckets = _items(out)
        assert [b["metadata"]["period_start"] for b in buckets] == ["2026-11-04", "2026-11-03"]
        day2, day1 = buckets
        assert _usage(day1) == {"cpu": "4200", "mem": str(GIB * 1800)}  # 2x1800 + 1x600
        assert _usage(day2) == {"cpu": "7200", "mem": str(GIB * 3600)}
        assert day1["resource_group"] == world.group.name
        assert day1["metadata"]["decay_unit_days"] == 1

    def test_project_and_user_buckets_follow_the_filters_and_the_callers_scope(
        self, run_cli: CLI, world: ComputeWorld, ledger: dict[str, Any]
    ) -> None:
        project = _ok(run_cli(world.admin, "resource-usage", "project", "list", "--json",
                              "--project-id", str(world.project.pk), "--order", "ASC"))  # fmt: skip
        everyone = _ok(run_cli(world.admin, "resource-usage", "user", "list", "--json"))
        own = _ok(run_cli(world.user, "resource-usage", "user", "list", "--json"))

        assert [b["metadata"]["period_start"] for b in _items(project)] == [
            "2026-11-03", "2026-11-04",
        ]  # fmt: skip
        assert {b["user_uuid"] for b in _items(everyone)} == {
            str(world.user.user.pk), str(ledger["other"].user.pk),
        }  # fmt: skip
        assert {b["user_uuid"] for b in _items(own)} == {str(world.user.user.pk)}

    def test_the_text_listing_fails_inside_the_client(
        self, run_cli: CLI, world: ComputeWorld, ledger: dict[str, Any]
    ) -> None:
        # the client's text mode reads `b.period_start`, which its own DTO keeps under
        # `b.metadata` (docs/compat/usage.md): a client bug whatever the server answers
        text = run_cli(world.admin, "resource-usage", "domain", "list")

        assert "'DomainUsageBucketDTO' object has no attribute 'period_start'" in str(
            text.stdout + text.stderr
        )
