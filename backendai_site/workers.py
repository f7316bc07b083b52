"""The gunicorn worker class of the web role: uvicorn's, without websocket compression.

The official client never asks for per-message deflate; a client that does would make every
terminal, execute and tcpproxy frame pay for compressing bytes that rarely compress.

A worker also ends when its gunicorn master dies (Linux `PR_SET_PDEATHSIG`): uvicorn's worker
never checks its parent, so after a `kill -9` of the master an orphaned worker would keep the
listening socket and the restarted master could not bind its port.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker

_PR_SET_PDEATHSIG = 1


def exit_with_parent(parent_pid: int) -> bool:
    """Ask the kernel to send SIGTERM when the parent dies; False where prctl is unavailable.

    Exits at once when the parent is already gone (it died between fork and this call).
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:
        os._exit(0)
    return True


class WebWorker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **UvicornWorker.CONFIG_KWARGS,
        "ws_per_message_deflate": False,
    }

    def init_process(self) -> None:
        exit_with_parent(self.ppid)
        super().init_process()
