"""The usage ledger's writer: every second a kernel ran becomes slot-seconds in exactly one
`UsageInterval` row (docs/design/0008-usage-and-fair-share.md).

A kernel owes ledger time from `started_at` to `terminated_at` (or now, while it runs).
`Kernel.usage_recorded_until` is the watermark: rows are written from it and it moves in the same
transaction, under a row lock taken with `skip_locked`, so concurrent recorders never write a
second twice and a crash between two runs loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from backendai_site.config import get_config
from sessions_app import dispatch
from sessions_app.enums import UsageKind
from sessions_app.models import Kernel, UsageInterval

log = logging.getLogger(__name__)

MICRO = Decimal("0.000001")
HOUR = timedelta(hours=1)


def hour_pieces(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """`[start, end)` cut at UTC hour boundaries (any period of whole hours then sums rows)."""
    cursor = start
    while cursor < end:
        boundary = cursor.replace(minute=0, second=0, microsecond=0) + HOUR
        piece_end = min(boundary, end)
        yield cursor, piece_end
        cursor = piece_end


def interval_seconds(start: datetime, end: datetime) -> Decimal:
    """Exact seconds (microsecond resolution) of `[start, end)`."""
    delta = end - start
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / 1_000_000


def slot_seconds_of(slots: Mapping[str, Any], seconds: Decimal) -> dict[str, str]:
    """Amount x seconds per slot, as exact decimal strings (zero amounts dropped)."""
    out: dict[str, str] = {}
    for name in sorted(slots):
        amount = Decimal(str(slots[name]))
        if amount:
            out[name] = format((amount * seconds).quantize(MICRO).normalize(), "f")
    return out


def _interval_rows(kernel: Kernel, start: datetime, end: datetime) -> list[UsageInterval]:
    session = kernel.session
    slots = {name: str(value) for name, value in sorted((kernel.occupied_slots or {}).items())}
    attribution = {
        "kernel_id": kernel.pk,
        "session_id": session.pk,
        "session_name": session.name,
        "user_id": session.user_id,
        "user_email": session.user.email,
        "access_key": session.access_key_id,
        "project_id": session.project_id,
        "project_name": session.project.name,
        "domain_name": session.domain.name,
        "resource_group": session.resource_group.name,
        "agent_id": kernel.agent_id or "",
        "image": session.image_ref[:512],
    }
    rows = []
    for piece_start, piece_end in hour_pieces(start, end):
        seconds = interval_seconds(piece_start, piece_end)
        rows.append(
            UsageInterval(
                kind=UsageKind.INTERVAL,
                started_at=piece_start,
                ended_at=piece_end,
                seconds=seconds,
                slots=slots,
                slot_seconds=slot_seconds_of(slots, seconds),
                **attribution,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class UsageRecordResult:
    kernels: int
    rows: int
    closed: int


def usage_intervals_record(
    *, now: datetime | None = None, kernel_ids: Sequence[UUID | str] | None = None
) -> UsageRecordResult:
    """Write every owing kernel's time up to `now` (or to its end); `kernel_ids` limits the run.

    Kernels another recorder holds are skipped (it writes them); a kernel that ended is closed.
    """
    now = now or timezone.now()
    batch_size = get_config().usage.batch_size
    owing = Kernel.objects.filter(usage_closed=False, started_at__isnull=False)
    if kernel_ids is not None:
        owing = owing.filter(pk__in=list(kernel_ids))
    kernels_done = rows_written = closed = 0
    last_pk: UUID | None = None
    while True:
        with transaction.atomic():
            page = owing.order_by("pk")
            if last_pk is not None:
                page = page.filter(pk__gt=last_pk)
            batch = list(
                page.select_related(
                    "session__user", "session__project", "session__domain",
                    "session__resource_group",
                ).select_for_update(skip_locked=True, of=("self",))[:batch_size]
            )  # fmt: skip
            if not batch:
                break
            last_pk = batch[-1].pk
            rows: list[UsageInterval] = []
            for kernel in batch:
                assert kernel.started_at is not None
                start = kernel.usage_recorded_until or kernel.started_at
                end = kernel.terminated_at or now
                ended = kernel.terminated_at is not None
                if end > start:
                    rows.extend(_interval_rows(kernel, start, end))
                    kernel.usage_recorded_until = end
                kernel.usage_closed = ended
                kernels_done += 1
                closed += int(ended)
            UsageInterval.objects.bulk_create(rows)
            Kernel.objects.bulk_update(batch, ["usage_recorded_until", "usage_closed"])
            rows_written += len(rows)
        if len(batch) < batch_size:
            break
    if rows_written or closed:
        log.info(
            "usage recorded",
            extra={"kernels": kernels_done, "rows": rows_written, "closed": closed},
        )
    return UsageRecordResult(kernels=kernels_done, rows=rows_written, closed=closed)


def usage_record_hint(*, kernel_id: UUID | str) -> None:
    """After commit, ask a worker to close an ended kernel's ledger time now rather than at the
    next beat run (which writes it anyway when the broker cannot be reached)."""

    def send() -> None:
        try:
            dispatch.task_send(
                dispatch.USAGE_INTERVALS_RECORD, args=[[str(kernel_id)]],
                queue=dispatch.MANAGER_QUEUE,
            )  # fmt: skip
        except Exception:
            log.warning("usage hint not sent", extra={"kernel_id": str(kernel_id)}, exc_info=True)

    transaction.on_commit(send)


def usage_correction_record(
    *, corrects: UsageInterval, slot_seconds: Mapping[str, Decimal], seconds: Decimal, note: str
) -> UsageInterval:
    """A correction of `corrects`: a new row carrying the signed differences (the original row
    stays as it was). `slot_seconds` and `seconds` are what to add (negative to take away)."""
    if corrects.kind != UsageKind.INTERVAL:
        raise ValueError("only an interval row can be corrected")
    if not note.strip():
        raise ValueError("a correction needs a note saying why")
    deltas = {
        name: format(Decimal(value).quantize(MICRO).normalize(), "f")
        for name, value in sorted(slot_seconds.items())
        if Decimal(value)
    }
    copied = {
        field: getattr(corrects, field)
        for field in (
            "kernel_id", "session_id", "session_name", "user_id", "user_email", "access_key",
            "project_id", "project_name", "domain_name", "resource_group", "agent_id", "image",
            "started_at", "ended_at", "slots",
        )
    }  # fmt: skip
    row = UsageInterval.objects.create(
        kind=UsageKind.CORRECTION,
        corrects=corrects,
        note=note[:255],
        seconds=Decimal(seconds).quantize(MICRO),
        slot_seconds=deltas,
        **copied,
    )
    log.info("usage corrected", extra={"row": row.pk, "corrects": corrects.pk, "note": note})
    return row
