"""Reading the streamed CSV answers of `/export/*` the way an ASGI server reads them."""

from __future__ import annotations

import csv
import io
from typing import Any

from asgiref.sync import async_to_sync

UTF8_BOM = b"\xef\xbb\xbf"


def streamed_bytes(response: Any) -> bytes:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)()


def csv_table(raw: bytes, encoding: str = "utf-8") -> list[list[str]]:
    """Header and rows of a CSV answer (the UTF-8 byte-order mark dropped)."""
    text = raw.removeprefix(UTF8_BOM).decode(encoding)
    return list(csv.reader(io.StringIO(text)))


def csv_dicts(raw: bytes) -> list[dict[str, str]]:
    header, *rows = csv_table(raw)
    return [dict(zip(header, row, strict=True)) for row in rows]
