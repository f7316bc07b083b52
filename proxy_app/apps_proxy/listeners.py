"""Port mode: one listening socket per port of `apps_port_range`, all served by one uvicorn
server running the web role's ASGI application (whose apps router maps a port back to the app
label reserved for it when its link was issued)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


def port_sockets(host: str, ports: Iterable[int]) -> list[socket.socket]:
    """Bound, listening sockets for every port (ports another process holds are skipped)."""
    sockets: list[socket.socket] = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            log.warning("app port unavailable", extra={"port": port, "error": str(exc)})
            continue
        sock.listen(512)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


def apps_port_server(app: Any, *, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for `app` that is given its sockets by `serve(sockets=...)`/`run`."""
    config = uvicorn.Config(app, lifespan="off", log_level=log_level, ws_per_message_deflate=False)
    return uvicorn.Server(config)
