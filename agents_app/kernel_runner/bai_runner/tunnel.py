"""`tunnel`: turn an authenticated runner connection into a raw byte stream to one service.

The built-in terminal gets a shell on a PTY of its own; any other service is relayed to its first
port on the container's loopback. This is how services the runner serves itself are reached: they
listen on no port, so neither another container nor a host process can open them without the
kernel's secret. After the `tunnel-opened` reply no more JSON flows on the connection; the client
must send nothing after the request until it has read that reply.
"""

from __future__ import annotations

import contextlib
import select
import socket
from typing import TYPE_CHECKING

from . import protocol
from .protocol import READ_CHUNK, Message, RunnerError, log, require
from .pty import serve_raw_terminal
from .services import SERVICES, runner_served

if TYPE_CHECKING:
    from .connection import Connection

CONNECT_TIMEOUT = 10.0


def _relay(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    peers = {one: other, other: one}
    try:
        while True:
            readable, _, _ = select.select(list(peers), [], [], 5.0)
            for sock in readable:
                data = sock.recv(READ_CHUNK)
                if not data:
                    return
                peers[sock].sendall(data)
    except OSError:
        return
    finally:
        for sock in peers:
            with contextlib.suppress(OSError):
                sock.close()


def _target(msg: Message) -> tuple[Message, str]:
    name = str(require(msg, "service"))
    spec = protocol.CONFIG.services.get(name)
    if spec is None:
        raise RunnerError("unknown-service", f"no service named {name!r}")
    return spec, name


def open_tunnel(conn: Connection, msg: Message) -> None:
    """Answer the request and serve the tunnel on this thread; the connection ends with it."""
    spec, name = _target(msg)
    if runner_served(spec):
        conn.send({"type": "tunnel-opened", "id": msg.get("id"), "service": name})
        log.info("terminal tunnel opened", extra={"service": name})
        serve_raw_terminal(conn.sock)
        return
    ports = [int(p) for p in spec.get("container_ports", [])]
    if not ports:
        raise RunnerError("bad-service", f"service {name!r} has no ports")
    if not SERVICES.running(name):
        SERVICES.start(name, CONNECT_TIMEOUT)
    try:
        upstream = socket.create_connection(("127.0.0.1", ports[0]), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise RunnerError("service-unreachable", f"{name} refuses connections: {exc}") from None
    upstream.settimeout(None)
    conn.send({"type": "tunnel-opened", "id": msg.get("id"), "service": name})
    _relay(conn.sock, upstream)
