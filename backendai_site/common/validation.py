"""Bounds shared by every request schema: text without NUL bytes, JSON of limited depth.

PostgreSQL refuses NUL in text and Python's JSON decoder recurses per nesting level, so both are
checked at the edge, before any input reaches a query or a parser, and answered with a 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from backendai_site.common.errors import InvalidAPIParameters

MAX_JSON_DEPTH = 32
# Any JSON token that can open or close a level, or a string (whose brackets do not count).
_JSON_STRUCTURE_RE = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


def refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


NoNul = AfterValidator(refuse_nul)
# Annotated strings for schemas: at most N characters, no NUL byte.
Text64 = Annotated[str, StringConstraints(max_length=64), NoNul]
Text256 = Annotated[str, StringConstraints(max_length=256), NoNul]
Text1K = Annotated[str, StringConstraints(max_length=1024), NoNul]
Text64K = Annotated[str, StringConstraints(max_length=64 * 1024), NoNul]


def json_depth_check(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise InvalidAPIParameters when `raw` nests arrays/objects deeper than `max_depth`.

    A linear scan that skips string contents, run before the decoder sees the document."""
    depth = 0
    for match in _JSON_STRUCTURE_RE.finditer(raw):
        token = match.group()
        if len(token) != 1:
            continue
        if token[0] in _OPENERS:
            depth += 1
            if depth > max_depth:
                raise InvalidAPIParameters(
                    f"The JSON body nests deeper than {max_depth} levels.",
                    data={"max_depth": max_depth},
                )
        else:
            depth -= 1


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def json_loads_bounded(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` that refuses deep nesting and the non-standard NaN/Infinity constants."""
    data = raw.encode() if isinstance(raw, str) else raw
    json_depth_check(data, max_depth=max_depth)
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidAPIParameters("The request body is not valid JSON.") from None


def finite_number(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value
