from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from sessions_app.enums import KernelStatus, UsageKind
from sessions_app.models import Kernel, UsageInterval
from sessions_app.services.status import kernel_transition
from sessions_app.services.usage import (
    hour_pieces,
    usage_correction_record,
    usage_intervals_record,
)

GIB = 1024**3
T0 = datetime(2026, 11, 3, 9, 40, 0, 250_000, tzinfo=UTC)


def _ledger_seconds(kernel: Kernel) -> Decimal:
    return sum((r.seconds for r in UsageInterval.objects.filter(kernel_id=kernel.pk)), Decimal(0))


class TestHourPieces:
    def test_an_interval_is_cut_at_every_utc_hour(self) -> None:
        pieces = list(hour_pieces(T0, T0 + timedelta(hours=2)))

        assert [(a.hour, a.minute, b.hour, b.minute) for a, b in pieces] == [
            (9, 40, 10, 0), (10, 0, 11, 0), (11, 0, 11, 40),
        ]  # fmt: skip
        assert pieces[0][0] == T0 and pieces[-1][1] == T0 + timedelta(hours=2)

    def test_an_empty_interval_has_no_piece(self) -> None:
        assert list(hour_pieces(T0, T0)) == []


class TestUsageIntervalsRecord:
    def test_a_running_kernel_is_written_up_to_now_and_continued_later(
        self, running_kernel: Callable[..., Kernel]
    ) -> None:
        kernel = running_kernel(started_at=T0)

        usage_intervals_record(now=T0 + timedelta(minutes=10))
        usage_intervals_record(now=T0 + timedelta(minutes=30))

        rows = list(UsageInterval.objects.filter(kernel_id=kernel.pk).order_by("started_at"))
        assert [(r.started_at, r.ended_at) for r in rows] == [
            (T0, T0 + timedelta(minutes=10)),
            (T0 + timedelta(minutes=10), T0.replace(hour=10, minute=0, second=0, microsecond=0)),
            (T0.replace(hour=10, minute=0, second=0, microsecond=0), T0 + timedelta(minutes=30)),
        ]
        assert _ledger_seconds(kernel) == Decimal(1800)
        first = rows[0]
        assert first.kind == UsageKind.INTERVAL
        assert first.slots == {"cpu": "2", "mem": str(GIB)}
        assert first.slot_seconds == {"cpu": "1200", "mem": str(GIB * 600)}
        session = kernel.session
        assert (first.user_id, first.user_email, first.access_key) == (
            session.user_id, session.user.email, session.access_key_id,
        )  # fmt: skip
        assert (first.project_id, first.project_name, first.domain_name, first.resource_group) == (
            session.project_id, session.project.name, session.domain.name,
            session.resource_group.name,
        )  # fmt: skip
        kernel.refresh_from_db()
        assert kernel.usage_recorded_until == T0 + timedelta(minutes=30)
        assert not kernel.usage_closed

    def test_an_ended_kernel_is_written_to_its_end_to_the_microsecond_and_closed(
        self, running_kernel: Callable[..., Kernel]
    ) -> None:
        kernel = running_kernel(started_at=T0, slots={"cpu": "0.5", "mem": "1000"})
        usage_intervals_record(now=T0 + timedelta(seconds=7))
        end = T0 + timedelta(seconds=12, microseconds=345_678)
        kernel.refresh_from_db()
        kernel_transition(kernel=kernel, to=KernelStatus.TERMINATED, reason="test", now=end)

        result = usage_intervals_record(now=end + timedelta(hours=5))
        again = usage_intervals_record(now=end + timedelta(hours=6))

        assert _ledger_seconds(kernel) == Decimal("12.345678")
        assert result.closed == 1
        assert again.kernels == 0 and again.rows == 0
        kernel.refresh_from_db()
        assert kernel.usage_closed and kernel.usage_recorded_until == end
        last = UsageInterval.objects.filter(kernel_id=kernel.pk).latest("started_at")
        assert last.slot_seconds == {"cpu": "2.672839", "mem": "5345.678"}

    def test_a_kernel_that_never_started_owes_nothing(
        self, running_kernel: Callable[..., Kernel]
    ) -> None:
        kernel = running_kernel(started_at=T0)
        Kernel.objects.filter(pk=kernel.pk).update(started_at=None)

        assert usage_intervals_record(now=T0 + timedelta(hours=1)).rows == 0

    def test_the_ids_given_limit_the_run(self, running_kernel: Callable[..., Kernel]) -> None:
        one, other = running_kernel(started_at=T0), running_kernel(started_at=T0)

        usage_intervals_record(now=T0 + timedelta(minutes=5), kernel_ids=[one.pk])

        assert UsageInterval.objects.filter(kernel_id=one.pk).exists()
        assert not UsageInterval.objects.filter(kernel_id=other.pk).exists()


@pytest.mark.django_db(transaction=True)
class TestConcurrentRecorders:
    def test_two_recorders_at_once_never_write_a_second_twice(
        self, running_kernel: Callable[..., Kernel]
    ) -> None:
        kernels = [running_kernel(started_at=T0) for _ in range(30)]
        now = T0 + timedelta(minutes=20)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def record() -> None:
            try:
                barrier.wait()
                for _ in range(3):
                    usage_intervals_record(now=now)
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=record) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        for kernel in kernels:
            assert _ledger_seconds(kernel) == Decimal(1200)


class TestAppendOnly:
    def test_the_database_refuses_to_update_or_delete_a_row(
        self, running_kernel: Callable[..., Kernel]
    ) -> None:
        running_kernel(started_at=T0)
        usage_intervals_record(now=T0 + timedelta(minutes=1))
        row = UsageInterval.objects.get()

        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            UsageInterval.objects.filter(pk=row.pk).update(seconds=Decimal(1))
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            UsageInterval.objects.filter(pk=row.pk).delete()

        row.refresh_from_db()
        assert row.seconds == Decimal(60)

    def test_a_correction_is_a_new_row_and_the_corrected_row_stays(
        self, running_kernel: Callable[..., Kernel]
    ) -> None:
        kernel = running_kernel(started_at=T0)
        usage_intervals_record(now=T0 + timedelta(minutes=1))
        row = UsageInterval.objects.get()

        fix = usage_correction_record(
            corrects=row, seconds=Decimal(-10), slot_seconds={"cpu": Decimal(-20)},
            note="agent clock ran 10 s fast",
        )  # fmt: skip

        assert fix.kind == UsageKind.CORRECTION and fix.corrects_id == row.pk
        assert fix.slot_seconds == {"cpu": "-20"}
        assert (fix.user_id, fix.started_at) == (row.user_id, row.started_at)
        row.refresh_from_db()
        assert row.seconds == Decimal(60)
        assert _ledger_seconds(kernel) == Decimal(50)

    def test_a_correction_needs_a_reason(self, running_kernel: Callable[..., Kernel]) -> None:
        running_kernel(started_at=T0)
        usage_intervals_record(now=T0 + timedelta(minutes=1))

        with pytest.raises(ValueError, match="note"):
            usage_correction_record(
                corrects=UsageInterval.objects.get(), seconds=Decimal(1), slot_seconds={},
                note=" ",
            )  # fmt: skip
