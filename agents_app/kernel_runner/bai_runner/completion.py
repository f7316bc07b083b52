"""Code completion (`complete`): rlcompleter over the query interpreter's namespace.

The text completed is the end of the cursor's line (`options.line` up to `options.col`), or,
without a line, the last line of `code`: its trailing dotted name (`os.pa`, `my_var`), as a
Tab after it in an editor would. Attribute completion evaluates the part before the last dot
in the session's namespace, as Python's own interactive completer does.
"""

from __future__ import annotations

import re
import rlcompleter
from typing import Any

from .execution import EXECUTOR
from .protocol import Message, RunnerError, log

MAX_COMPLETIONS = 500
_TRAILING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\.?$")


def _cursor_text(code: str, options: Message) -> str:
    line = options.get("line")
    if isinstance(line, str) and line:
        col = options.get("col")
        if isinstance(col, int) and 0 < col <= len(line):
            return line[:col]
        return line
    lines = code.splitlines()
    return lines[-1] if lines and not code.endswith("\n") else ""


def completions(namespace: Message, code: str, options: Message) -> list[str]:
    match = _TRAILING_NAME.search(_cursor_text(code, options))
    if match is None:
        return []
    completer = rlcompleter.Completer(namespace.copy())  # a copy: queries may run meanwhile
    found: list[str] = []
    for state in range(MAX_COMPLETIONS):
        try:
            candidate = completer.complete(match.group(0), state)
        except Exception:  # evaluating the user's objects may fail in any way
            log.info("completion stopped by an error", exc_info=True)
            break
        if candidate is None:
            break
        if candidate not in found:
            found.append(candidate)
    return found


def h_complete(conn: Any, msg: Message) -> Message:
    code = msg.get("code", "")
    options = msg.get("options") or {}
    if not isinstance(code, str) or not isinstance(options, dict):
        raise RunnerError("bad-request", "code must be a string and options an object")
    return {"type": "completions", "completions": completions(EXECUTOR.namespace, code, options)}
