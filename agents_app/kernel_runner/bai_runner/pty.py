"""PTYs: interactive shells, used by pty-open and by the built-in raw terminal service."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import pty
import select
import shlex
import signal
import socket
import struct
import termios
import threading
import uuid
from typing import TYPE_CHECKING, Any

from . import protocol
from .protocol import READ_CHUNK, Message, RunnerError, child_env, require

if TYPE_CHECKING:
    from .connection import Connection


def _shell_command() -> list[str]:
    return ["/bin/bash", "-l"] if os.path.exists("/bin/bash") else ["/bin/sh"]


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def spawn_pty(command: list[str], rows: int, cols: int) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # child: exec at once (the parent is multi-threaded)
        try:
            os.chdir(protocol.CONFIG.workdir)
            env = child_env()
            env["TERM"] = env.get("TERM", "xterm-256color")
            os.execvpe(command[0], command, env)
        finally:
            os._exit(127)
    _set_winsize(fd, rows, cols)
    return pid, fd


def _reap(pid: int) -> int:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 0
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class PtySession:
    def __init__(self, conn: Connection, command: list[str], rows: int, cols: int) -> None:
        self.conn = conn
        self.pty_id = uuid.uuid4().hex[:12]
        self.pid, self.fd = spawn_pty(command, rows, cols)
        self.closed = False
        threading.Thread(target=self._read_loop, daemon=True, name="pty-" + self.pty_id).start()

    def _read_loop(self) -> None:
        while True:
            try:
                data = os.read(self.fd, READ_CHUNK)
            except OSError:
                data = b""
            if not data:
                break
            self.conn.send(
                {
                    "type": "pty-output",
                    "pty_id": self.pty_id,
                    "data": base64.b64encode(data).decode(),
                }
            )
        code = _reap(self.pid)
        self.close()
        self.conn.send({"type": "pty-exit", "pty_id": self.pty_id, "exit_code": code})
        self.conn.ptys.pop(self.pty_id, None)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def resize(self, rows: int, cols: int) -> None:
        _set_winsize(self.fd, rows, cols)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGWINCH)

    def hangup(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGHUP)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                os.close(self.fd)


def serve_raw_terminal(client: socket.socket) -> None:
    """One TCP connection = one shell on a PTY; bytes are relayed both ways unchanged."""
    pid, fd = spawn_pty(_shell_command(), 24, 80)
    try:
        while True:
            watched: list[Any] = [client, fd]
            readable, _, _ = select.select(watched, [], [], 1.0)
            if client in readable:
                data = client.recv(READ_CHUNK)
                if not data:
                    break
                os.write(fd, data)
            if fd in readable:
                try:
                    out = os.read(fd, READ_CHUNK)
                except OSError:
                    out = b""
                if not out:
                    break
                client.sendall(out)
    except OSError:
        pass
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGHUP)
        os.close(fd)
        client.close()
        _reap(pid)


def h_pty_open(conn: Connection, msg: Message) -> Message:
    command = msg.get("command") or _shell_command()
    if isinstance(command, str):
        command = shlex.split(command)
    session = PtySession(
        conn, [str(c) for c in command], int(msg.get("rows", 24)), int(msg.get("cols", 80))
    )
    conn.ptys[session.pty_id] = session
    return {"type": "pty-opened", "pty_id": session.pty_id}


def h_pty_write(conn: Connection, msg: Message) -> Message:
    session = conn.pty(msg)
    try:
        data = base64.b64decode(str(require(msg, "data")), validate=True)
    except ValueError:
        raise RunnerError("bad-request", "data must be base64") from None
    session.write(data)
    return {"type": "ok"}


def h_pty_resize(conn: Connection, msg: Message) -> Message:
    conn.pty(msg).resize(int(require(msg, "rows")), int(require(msg, "cols")))
    return {"type": "ok"}


def h_pty_close(conn: Connection, msg: Message) -> Message:
    conn.pty(msg).hangup()
    return {"type": "ok"}
