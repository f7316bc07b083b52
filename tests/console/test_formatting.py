"""The console's wording of amounts, times and scheduler verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backendai_site.console import formatting

GIB = 1024**3
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


class TestAmounts:
    @pytest.mark.parametrize(
        ("slot", "value", "shown"),
        [
            ("cpu", "4", "4 CPUs"),
            ("cpu", "1", "1 CPU"),
            ("cpu", "0.5", "0.5 CPUs"),
            ("mem", 512 * 1024**2, "0.5 GiB"),
            ("mem", Decimal("25275658240"), "23.5 GiB"),
            ("mem", 64 * 1024**2, "64 MiB"),
            ("mem", 0, "0 GiB"),
            ("mem", 2 * 1024**4, "2 TiB"),
            ("cuda.device", "2", "2 GPUs"),
            ("cuda.device", "1", "1 GPU"),
            ("cuda.shares", "0.25", "0.25 GPU shares"),
            ("tpu", "3", "3 tpu"),
        ],
    )
    def test_amount_in_human_units(self, slot: str, value: Any, shown: str) -> None:
        assert formatting.amount(slot, value) == shown

    def test_used_of_capacity(self) -> None:
        assert formatting.used_of("mem", 512 * 1024**2, Decimal("25275658240")) == (
            "0.5 GiB / 23.5 GiB"
        )

    def test_several_slots_cpu_and_memory_first_zeros_dropped(self) -> None:
        shown = formatting.slots({"cuda.device": "1", "mem": str(4 * GIB), "cpu": "2", "x": "0"})
        assert shown == "2 CPUs, 4 GiB, 1 GPU"
        assert formatting.slots({}) == "nothing"

    def test_slot_hours_in_units(self) -> None:
        assert formatting.slot_hours({"cpu": Decimal(12), "mem": Decimal("3.5")}) == (
            "12 core-hours, 3.5 GiB-hours"
        )

    def test_percent_is_clamped_and_safe_on_zero_capacity(self) -> None:
        assert formatting.percent(1, 4) == 25
        assert formatting.percent(5, 4) == 100
        assert formatting.percent(1, 0) == 0


class TestTimes:
    @pytest.mark.parametrize(
        ("seconds", "words"),
        [
            (0, "0 seconds"),
            (1, "1 second"),
            (59, "59 seconds"),
            (3725, "1 hour 2 minutes"),
            (86400 + 180, "1 day"),
            (2 * 86400 + 3 * 3600, "2 days 3 hours"),
        ],
    )
    def test_duration_in_words(self, seconds: int, words: str) -> None:
        assert formatting.duration(seconds) == words

    def test_age_past_and_future(self) -> None:
        assert formatting.age(NOW - timedelta(minutes=5, seconds=10), NOW) == "5 minutes ago"
        assert formatting.age(NOW + timedelta(hours=2), NOW) == "in 2 hours"
        assert formatting.age(NOW, NOW) == "just now"
        assert formatting.age(None, NOW) == "-"

    def test_clock_in_the_active_zone(self) -> None:
        with timezone.override(ZoneInfo("Asia/Seoul")):
            assert formatting.clock(NOW) == "2026-01-02 21:00:00 KST"
        assert formatting.clock(NOW) == "2026-01-02 12:00:00 UTC"

    @pytest.mark.parametrize(
        ("n", "text"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (22, "22nd")]
    )
    def test_ordinal(self, n: int, text: str) -> None:
        assert formatting.ordinal(n) == text


def verdict(code: str, checks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"verdict": code, "msg": f"the scheduler's {code} message", "checks": checks, **extra}


class TestVerdictSentence:
    def test_capacity_with_queue_position_and_scheduler(self) -> None:
        data = verdict(
            "insufficient-capacity",
            [{"check": "agent-capacity", "slot": "cpu", "requested": "4", "available": "2",
              "short_by": "2"}],
            queue_position=3, queue_length=5,
        )  # fmt: skip

        sentence = formatting.verdict(data, scheduler="FIFO")

        assert sentence == (
            "waits: needs 4 CPUs, the largest free on one agent is 2 CPUs; 3rd of 5 in queue; FIFO"
        )

    def test_capacity_with_every_slot_free_somewhere(self) -> None:
        data = verdict(
            "insufficient-capacity",
            [{"check": "agent-capacity", "requested": {"cpu": "2", "mem": str(4 * GIB)}}],
        )
        assert formatting.verdict(data) == (
            "waits: every slot of 2 CPUs, 4 GiB is free somewhere, but no one agent has room "
            "for all of it at once"
        )

    def test_policy_limit(self) -> None:
        data = verdict(
            "policy-limit",
            [{"check": "keypair-resource-policy", "slot": "mem", "requested": str(2 * GIB),
              "occupied": str(7 * GIB), "limit": str(8 * GIB), "short_by": str(GIB)}],
        )  # fmt: skip
        assert formatting.verdict(data) == (
            "waits: the keypair limit is 8 GiB, 7 GiB in use, 2 GiB asked"
        )

    def test_concurrency_limit(self) -> None:
        data = verdict(
            "concurrency-limit",
            [{"check": "keypair-concurrency", "requested": 1, "occupied": 3, "limit": 3,
              "short_by": 1}],
        )  # fmt: skip
        assert formatting.verdict(data) == (
            "waits: its keypair already runs 3 sessions, the policy allows 3 at a time"
        )

    def test_dependencies_pending_and_failed(self) -> None:
        dep = {"check": "dependency", "depends_on": "0123456789abcdef", "status": "RUNNING",
               "result": "UNDEFINED"}  # fmt: skip
        assert formatting.verdict(verdict("dependency-pending", [dep])) == (
            "waits for 1 session it depends on: 01234567"
        )
        failed = {**dep, "status": "TERMINATED", "result": "FAILURE"}
        assert formatting.verdict(verdict("dependency-failed", [failed])) == (
            "cannot start: a session it depends on did not succeed: 01234567 (terminated failure)"
        )

    def test_starts_at_future(self) -> None:
        at = NOW + timedelta(hours=3)
        data = verdict("starts-at-future", [{"check": "starts-at", "starts_at": at.isoformat()}])
        assert formatting.verdict(data, now=NOW) == (
            "waits until 2026-01-02 15:00:00 UTC (in 3 hours)"
        )

    def test_agents_missing(self) -> None:
        arch = verdict("no-agent-for-architecture", [{"check": "architecture",
                                                      "architecture": "aarch64"}])  # fmt: skip
        assert (
            formatting.verdict(arch) == "waits: no alive agent of its resource group runs aarch64"
        )
        assert formatting.verdict(verdict("no-alive-agents", [])) == (
            "waits: no agent of its resource group is alive and schedulable"
        )
        designated = verdict(
            "designated-agent-unavailable", [{"check": "designated-agents", "agents": ["a", "b"]}]
        )
        assert formatting.verdict(designated) == (
            "waits: none of the agents it must run on (a, b) is alive and schedulable"
        )

    def test_pending_timeout_keeps_the_last_reason(self) -> None:
        data = verdict(
            "pending-timeout",
            [{"check": "pending-timeout", "timeout_seconds": 600},
             {"check": "agent-capacity", "slot": "cuda.device", "requested": "2",
              "available": "1", "short_by": "1"}],
        )  # fmt: skip
        assert formatting.verdict(data) == (
            "cancelled after waiting more than 10 minutes (needs 2 GPUs, the largest free on one "
            "agent is 1 GPU)"
        )

    def test_unknown_or_bare_verdicts_fall_back_on_the_message(self) -> None:
        assert formatting.verdict(verdict("something-new", [])) == (
            "the scheduler's something-new message"
        )
        assert formatting.verdict(verdict("insufficient-capacity", [])) == (
            "the scheduler's insufficient-capacity message"
        )
        assert formatting.verdict(None) == "waiting for the scheduler"


class TestIdleChecks:
    def test_sentences_nearest_to_ending_first(self) -> None:
        checks = {
            "session_lifetime": {"threshold": 86400, "remaining": 7200.0, "reason": "lifetime"},
            "network_timeout": {"threshold": 3600, "remaining": 720.0, "reason": "idle"},
            "utilization": {"threshold": 600, "remaining": 0.0, "reason": "utilization"},
        }
        assert formatting.idle_checks(checks) == [
            "low utilization: ends at the next check (limit 10 minutes)",
            "no client traffic: ends in 12 minutes (limit 1 hour)",
            "session lifetime: ends in 2 hours (limit 1 day)",
        ]

    def test_no_checks(self) -> None:
        assert formatting.idle_checks({}) == []
