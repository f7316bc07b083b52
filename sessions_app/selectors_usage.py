"""Reading the usage ledger: who may see which rows, totals per kernel or per any attribution,
and the CSV export. Ledger rows are cut at UTC hour boundaries, so a period of whole hours is a
plain `started_at` range and sums need no prorating (docs/design/0008-usage-and-fair-share.md)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, User
from backendai_site.accounts.selectors import user_watched_domain_id
from sessions_app.models import UsageInterval

# attribution columns a total may be grouped by (never taken from the request as SQL)
GROUPABLE = (
    "kernel_id", "session_id", "session_name", "user_id", "user_email", "access_key",
    "project_id", "project_name", "domain_name", "resource_group", "agent_id", "image",
)  # fmt: skip
_TABLE = UsageInterval._meta.db_table


def usage_scope(actor: User) -> Q:
    """The one rule for reading usage: superadmins and global monitors read every row, a domain
    admin or a monitor of one domain the rows of that domain, anyone else their own."""
    match actor.role:
        case UserRole.SUPERADMIN | UserRole.ADMIN | UserRole.MONITOR:
            domain_id = user_watched_domain_id(user=actor)
            if domain_id is None:
                return Q()
            return Q(domain_name__in=Domain.objects.filter(pk=domain_id).values("name"))
    return Q(user_id=actor.pk)


def usage_rows(
    *,
    actor: User,
    start: datetime,
    end: datetime,
    project_ids: Sequence[UUID] | None = None,
    user_id: UUID | None = None,
    domain_name: str | None = None,
    resource_group: str | None = None,
) -> QuerySet[UsageInterval]:
    """Ledger rows of `[start, end)` the actor may read, narrowed by the given scope."""
    rows = UsageInterval.objects.filter(
        usage_scope(actor), started_at__gte=start, started_at__lt=end
    )
    if project_ids:
        rows = rows.filter(project_id__in=list(project_ids))
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if domain_name is not None:
        rows = rows.filter(domain_name=domain_name)
    if resource_group is not None:
        rows = rows.filter(resource_group=resource_group)
    return rows


@dataclass(slots=True)
class UsageTotal:
    """Sums over ledger rows sharing `key` (the values of the grouped columns, in order)."""

    key: tuple[Any, ...]
    seconds: Decimal = Decimal(0)
    slot_seconds: dict[str, Decimal] = field(default_factory=dict)
    kernels: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    slots: dict[str, str] = field(default_factory=dict)

    def slot_hours(self) -> dict[str, Decimal]:
        return {name: value / 3600 for name, value in self.slot_seconds.items()}


def _json_object(value: Any) -> dict[str, str]:
    # a raw cursor hands jsonb back as text (Django parses JSONField values itself)
    if isinstance(value, str):
        value = json.loads(value)
    return dict(value) if isinstance(value, dict) else {}


def _ids_subquery(rows: QuerySet[UsageInterval]) -> tuple[str, tuple[Any, ...]]:
    sql, params = rows.order_by().values("id").query.sql_with_params()
    return sql, tuple(params)


def _group_expression(column: str) -> str:
    if column == "day":
        # the row's day in the site's time zone (rows never straddle an hour, so never a day)
        return "(u.started_at AT TIME ZONE %s)::date"
    if column == "hour":
        # rows are cut at UTC hour boundaries, so each lies inside exactly one hour
        return "date_trunc('hour', u.started_at)"
    if column not in GROUPABLE:
        raise ValueError(f"cannot group usage by {column!r}")
    return f"u.{column}"


def usage_totals(rows: QuerySet[UsageInterval], *, by: Sequence[str]) -> list[UsageTotal]:
    """Totals of `rows` grouped by the attribution columns `by` (and `day`: the row's date in
    the site's time zone; `hour`: the UTC hour it lies in); an empty `by` gives one grand
    total. Two queries whatever the number of rows; ordered by key."""
    expressions = [_group_expression(column) for column in by]
    group_params = tuple(settings.TIME_ZONE for column in by if column == "day")
    ids_sql, params = _ids_subquery(rows)
    select_cols = "".join(f"{expression}, " for expression in expressions)
    positions = ", ".join(str(i + 1) for i in range(len(by)))
    group = f"GROUP BY {positions}" if by else ""
    totals: dict[tuple[Any, ...], UsageTotal] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select_cols}SUM(u.seconds), COUNT(DISTINCT u.kernel_id), MIN(u.started_at),"
            f" MAX(u.ended_at), (ARRAY_AGG(u.slots ORDER BY u.started_at DESC)"
            f" FILTER (WHERE u.kind = 'interval'))[1]"
            f" FROM {_TABLE} u WHERE u.id IN ({ids_sql}) {group}",
            group_params + params,
        )
        for row in cursor.fetchall():
            key = tuple(row[: len(by)])
            seconds, kernels, first_at, last_at, slots = row[len(by) :]
            if kernels == 0:
                continue
            totals[key] = UsageTotal(
                key=key, seconds=seconds or Decimal(0), kernels=kernels,
                first_at=first_at, last_at=last_at, slots=_json_object(slots),
            )  # fmt: skip
        slot_positions = ", ".join(str(i + 1) for i in range(len(by) + 1))
        cursor.execute(
            f"SELECT {select_cols}e.key, SUM(e.value::numeric)"
            f" FROM {_TABLE} u CROSS JOIN LATERAL jsonb_each_text(u.slot_seconds) e"
            f" WHERE u.id IN ({ids_sql}) GROUP BY {slot_positions}",
            group_params + params,
        )
        for row in cursor.fetchall():
            key = tuple(row[: len(by)])
            name, value = row[len(by) :]
            if key in totals:
                totals[key].slot_seconds[name] = value
    return [totals[key] for key in sorted(totals, key=lambda k: tuple(str(v) for v in k))]


def usage_totals_combine(
    totals: Iterable[UsageTotal], *, key: tuple[Any, ...] = ()
) -> UsageTotal | None:
    """One total of finer totals (each kernel falls in exactly one of them, so kernel counts
    add up); None when there are none."""
    combined: UsageTotal | None = None
    for total in totals:
        if combined is None:
            combined = UsageTotal(
                key=key, first_at=total.first_at, last_at=total.last_at, slots=dict(total.slots)
            )
        combined.seconds += total.seconds
        combined.kernels += total.kernels
        for name, value in total.slot_seconds.items():
            combined.slot_seconds[name] = combined.slot_seconds.get(name, Decimal(0)) + value
        if total.first_at is not None and (
            combined.first_at is None or total.first_at < combined.first_at
        ):
            combined.first_at = total.first_at
        if total.last_at is not None and (
            combined.last_at is None or total.last_at > combined.last_at
        ):
            combined.last_at = total.last_at
    return combined


def usage_slot_names(rows: QuerySet[UsageInterval]) -> list[str]:
    """Every slot name the rows carry slot-seconds for (the CSV's columns)."""
    ids_sql, params = _ids_subquery(rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT jsonb_object_keys(u.slot_seconds) FROM {_TABLE} u"
            f" WHERE u.id IN ({ids_sql})",
            params,
        )
        return sorted(row[0] for row in cursor.fetchall())


CSV_COLUMNS = (
    "id", "kind", "corrects", "started_at", "ended_at", "seconds", "user_email", "user_id",
    "access_key", "project_name", "project_id", "domain_name", "resource_group", "agent_id",
    "session_name", "session_id", "kernel_id", "image", "note",
)  # fmt: skip


def usage_csv_blocks(rows: QuerySet[UsageInterval], *, block_rows: int = 2000) -> Iterator[str]:
    """The rows as CSV text in blocks: a header, then one line per ledger row (in id order) with
    a slot-seconds column per slot. Each block is its own keyset query of `block_rows` rows, so
    no more than a block is ever held and no cursor stays open between blocks."""
    slot_names = usage_slot_names(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([*CSV_COLUMNS, *(f"{name}_seconds" for name in slot_names)])
    yield flush()
    last_id = 0
    while True:
        block = list(rows.filter(id__gt=last_id).order_by("id")[:block_rows])
        if not block:
            return
        last_id = block[-1].id
        for row in block:
            values: list[Any] = []
            for column in CSV_COLUMNS:
                match column:
                    case "corrects":
                        values.append(row.corrects_id or "")
                    case "started_at" | "ended_at":
                        values.append(getattr(row, column).isoformat())
                    case _:
                        values.append(getattr(row, column))
            values.extend(row.slot_seconds.get(name, "0") for name in slot_names)
            writer.writerow(values)
        yield flush()
        if len(block) < block_rows:
            return


async def usage_csv_stream(rows: QuerySet[UsageInterval]) -> AsyncIterator[str]:
    """`usage_csv_blocks` as an async iterator: under ASGI Django streams one (a sync iterator
    would be read whole into a list first); each block's query runs in a worker thread."""
    blocks = usage_csv_blocks(rows)

    def next_block() -> str | None:
        return next(blocks, None)

    while (block := await sync_to_async(next_block)()) is not None:
        yield block
