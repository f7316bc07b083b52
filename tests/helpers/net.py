"""Loopback ports for servers the tests start."""

from __future__ import annotations

import socket
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    """The live ASGI server of the `live_api_server` fixture."""

    url: str
    port: int
    env: dict[str, str]
