"""A report's rows as CSV bytes: a header of the fields' names, then the rows in blocks, each
block one query of `EXPORT_BLOCK_ROWS` rows (no cursor stays open between blocks), at most
`EXPORT_MAX_ROWS` rows. UTF-8 output starts with a byte-order mark, as the reference's does."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import QuerySet

from .reports import ExportField

EXPORT_BLOCK_ROWS = 1000
EXPORT_MAX_ROWS = 100_000  # the reference's default `export.max_rows`
UTF8_BOM = b"\xef\xbb\xbf"


def export_value_text(value: Any) -> str:
    """One cell: empty for null, ISO 8601 for datetimes, JSON for objects and lists."""
    match value:
        case None:
            return ""
        case datetime():
            return value.isoformat()
        case dict() | list():
            return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def export_csv_blocks(
    fields: Sequence[ExportField],
    rows: QuerySet[Any],
    *,
    encoding: str,
    block_rows: int = EXPORT_BLOCK_ROWS,
    max_rows: int = EXPORT_MAX_ROWS,
) -> Iterator[bytes]:
    """The CSV in encoded blocks; characters the encoding lacks are written as `?`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode(encoding, errors="replace")

    writer.writerow([f.name for f in fields])
    header = flush()
    yield UTF8_BOM + header if encoding == "utf-8" else header
    offset = 0
    while offset < max_rows:
        block = list(rows[offset : min(offset + block_rows, max_rows)])
        for row in block:
            writer.writerow([export_value_text(v) for v in row])
        if block:
            yield flush()
        if len(block) < block_rows:
            return
        offset += block_rows


async def export_csv_stream(blocks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """`blocks` as an async iterator: under ASGI Django streams one (a sync iterator would be
    read whole first); each block's query runs in the thread Django's ORM uses."""

    def next_block() -> bytes | None:
        return next(blocks, None)

    while (block := await sync_to_async(next_block)()) is not None:
        yield block
