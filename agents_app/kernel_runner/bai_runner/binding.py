"""`bind`: hand a pooled (already running) kernel to the session that claimed it.

The agent sends the session's environment once, before the kernel is reported started; it is
applied to this process's environment, which code executed in-process and every child (PTYs,
services, subprocesses) inherit, so a claimed kernel sees what a cold one was started with.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .protocol import Message, RunnerError, require

if TYPE_CHECKING:
    from .connection import Connection

# never taken from a bind: the runner's own configuration stays what it was started with
_RESERVED = frozenset({"BAI_RUNNER_SECRET", "BAI_RUNNER_PORT", "BAI_WORKDIR", "HOME"})


def h_bind(conn: Connection, msg: Message) -> Message:
    environ = require(msg, "environ")
    if not isinstance(environ, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in v
        for k, v in environ.items()
    ):
        raise RunnerError("bad-request", "environ must map names to strings")
    for key, value in environ.items():
        if key not in _RESERVED:
            os.environ[key] = value
    return {"type": "bound", "count": len(environ)}
