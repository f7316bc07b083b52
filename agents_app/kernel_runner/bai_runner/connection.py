"""One authenticated client connection and the dispatch of its requests."""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from . import protocol
from .binding import h_bind
from .completion import h_complete
from .execution import h_continue, h_execute, h_input, h_interrupt
from .files import h_file_archive, h_file_list, h_file_stat, h_file_write
from .protocol import (
    AUTH_TIMEOUT,
    MAX_LINE,
    PROTOCOL_VERSION,
    SHUTDOWN,
    Message,
    RunnerError,
    log,
    require,
)
from .pty import PtySession, h_pty_close, h_pty_open, h_pty_resize, h_pty_write
from .services import h_service_list, h_service_start
from .tunnel import open_tunnel


class Connection:
    def __init__(self, sock: socket.socket, peer: Any) -> None:
        self.sock = sock
        self.peer = peer
        self.wlock = threading.Lock()
        self.ptys: dict[str, PtySession] = {}
        self.alive = True
        self.requests = 0

    def send(self, obj: Message) -> None:
        data = json.dumps(obj, separators=(",", ":")).encode("utf-8") + b"\n"
        with self.wlock:
            if not self.alive:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                self.alive = False

    def serve(self) -> None:
        reader = self.sock.makefile("rb")
        try:
            if not self._authenticate(reader):
                return
            while not SHUTDOWN.is_set():
                line = reader.readline(MAX_LINE + 1)
                if not line:
                    break
                if len(line) > MAX_LINE:
                    self.send({"type": "error", "code": "too-large", "message": "line too long"})
                    break
                if line.strip() and not self._dispatch(line):
                    break
        except OSError:
            pass
        finally:
            self.alive = False
            for session in list(self.ptys.values()):
                session.hangup()
            try:
                reader.close()
                self.sock.close()
            except OSError:
                pass

    def _authenticate(self, reader: Any) -> bool:
        self.sock.settimeout(AUTH_TIMEOUT)
        try:
            line = reader.readline(4096)
            msg = json.loads(line)
        except (OSError, ValueError):
            msg = None
        self.sock.settimeout(None)
        secret = msg.get("secret") if isinstance(msg, dict) and msg.get("type") == "auth" else None
        if not protocol.CONFIG.secret or not isinstance(secret, str):
            ok = False
        else:
            ok = hmac.compare_digest(secret.encode("utf-8"), protocol.CONFIG.secret.encode("utf-8"))
        if not ok:
            log.warning("authentication failed", extra={"peer": str(self.peer)})
            self.send({"type": "error", "code": "auth-failed", "message": "authentication failed"})
            return False
        self.send({"type": "auth-ok", "version": PROTOCOL_VERSION})
        return True

    def _dispatch(self, line: bytes) -> bool:
        """Serve one request line; False when the connection became a tunnel (and ended)."""
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
        except ValueError:
            self.send({"type": "error", "code": "bad-json", "message": "invalid JSON line"})
            return True
        kind = msg.get("type")
        self.requests += 1
        if kind == "tunnel":
            return not self._tunnel(msg)
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self._reply(msg, None, RunnerError("unknown-type", f"unknown type {kind!r}"))
        elif kind in INLINE:
            self._handle(handler, msg)
        else:
            threading.Thread(target=self._handle, args=(handler, msg), daemon=True).start()
        return True

    def _tunnel(self, msg: Message) -> bool:
        """Only a connection's first request may open a tunnel: nothing else may write to it."""
        if self.requests != 1:
            self._reply(msg, None, RunnerError("bad-request", "tunnel must be the first request"))
            return False
        try:
            open_tunnel(self, msg)
        except RunnerError as exc:
            self._reply(msg, None, exc)
            return False
        self.alive = False
        return True

    def _handle(self, handler: Callable[[Connection, Message], Message], msg: Message) -> None:
        try:
            self._reply(msg, handler(self, msg), None)
        except RunnerError as exc:
            self._reply(msg, None, exc)
        except Exception as exc:
            log.exception("request failed", extra={"request_type": msg.get("type")})
            self._reply(msg, None, RunnerError("internal", str(exc)))

    def _reply(self, msg: Message, result: Message | None, error: RunnerError | None) -> None:
        if error is not None:
            result = {"type": "error", "code": error.code, "message": error.message}
        assert result is not None
        result["id"] = msg.get("id")
        self.send(result)

    def pty(self, msg: Message) -> PtySession:
        session = self.ptys.get(str(require(msg, "pty_id")))
        if session is None:
            raise RunnerError("unknown-pty", "no such pty")
        return session


def h_ping(conn: Connection, msg: Message) -> Message:
    return {"type": "pong", "uptime": round(time.monotonic() - protocol.CONFIG.started, 3)}


HANDLERS: dict[str, Callable[[Connection, Message], Message]] = {
    "ping": h_ping,
    "bind": h_bind,
    "execute": h_execute,
    "complete": h_complete,
    "continue": h_continue,
    "input": h_input,
    "interrupt": h_interrupt,
    "pty-open": h_pty_open,
    "pty-write": h_pty_write,
    "pty-resize": h_pty_resize,
    "pty-close": h_pty_close,
    "service-start": h_service_start,
    "service-list": h_service_list,
    "file-write": h_file_write,
    "file-list": h_file_list,
    "file-archive": h_file_archive,
    "file-stat": h_file_stat,
}
# Quick requests are answered on the reader thread, which also keeps pty-write in order.
INLINE = {
    "ping",
    "bind",
    "interrupt",
    "pty-open",
    "pty-write",
    "pty-resize",
    "pty-close",
    "service-list",
}
