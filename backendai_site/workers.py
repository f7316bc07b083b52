"""The gunicorn worker class of the web role: uvicorn's, without websocket compression.

The official client never asks for per-message deflate; a client that does would make every
terminal, execute and tcpproxy frame pay for compressing bytes that rarely compress.
"""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker


class WebWorker(UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **UvicornWorker.CONFIG_KWARGS,
        "ws_per_message_deflate": False,
    }
