#!/usr/bin/env python3
"""Kernel runner: the program the agent starts inside every kernel container.

Standard library only, Python >= 3.8; it imports nothing of the project. The protocol
(line-delimited JSON over one TCP port, authenticated with BAI_RUNNER_SECRET) is described in
docs/design/0001-kernel-runner.md. Annotations are never evaluated (postponed), so the modern
spellings in them are fine on 3.8; runtime expressions stick to 3.8 syntax.
"""

from __future__ import annotations

import ast
import base64
import builtins
import codecs
import contextlib
import fcntl
import getpass
import hmac
import io
import json
import logging
import os
import pty
import queue
import select
import shlex
import signal
import socket
import stat
import struct
import subprocess
import sys
import tarfile
import termios
import threading
import time
import traceback
import uuid
from typing import Any, Callable, Dict  # noqa: UP035 - runs on 3.8

PROTOCOL_VERSION = 1
MAX_LINE = 16 * 1024 * 1024
AUTH_TIMEOUT = 10.0
FLUSH_DELAY = 0.05
DEFAULT_WAIT = 1.0
MAX_WAIT = 30.0
READ_CHUNK = 65536

log = logging.getLogger("bai.runner")
Message = Dict[str, Any]  # noqa: UP006 - evaluated at runtime on python 3.8


class RunnerError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code


class Config:
    def __init__(self) -> None:
        self.secret = os.environ.pop("BAI_RUNNER_SECRET", "")
        self.port = int(os.environ.get("BAI_RUNNER_PORT", "2000"))
        self.workdir = os.environ.get("BAI_WORKDIR", "/home/work")
        self.started = time.monotonic()
        raw = os.environ.get("BAI_SERVICE_PORTS", "[]")
        try:
            services = json.loads(raw)
        except ValueError:
            log.warning("BAI_SERVICE_PORTS is not JSON; no services")
            services = []
        self.services: dict[str, Message] = {s["name"]: s for s in services if "name" in s}


CONFIG: Config
SHUTDOWN = threading.Event()
MAIN_THREAD_ID = threading.get_ident()


# ---------------------------------------------------------------------------------------------
# Runs: an ordered event list (console chunks and status markers) polled by the client.


class Run:
    def __init__(self, run_id: str, mode: str) -> None:
        self.run_id = run_id
        self.mode = mode
        self.cond = threading.Condition()
        self.events: list[tuple[Any, ...]] = []
        self.first_pending: float | None = None
        self.inputs: queue.Queue[str] = queue.Queue()
        self.proc: subprocess.Popen | None = None
        self.interrupted = False

    def emit_console(self, kind: str, text: str) -> None:
        if not text:
            return
        with self.cond:
            last = self.events[-1] if self.events else None
            if last is not None and last[0] == "console" and last[1] == kind:
                self.events[-1] = ("console", kind, last[2] + text)
            else:
                self.events.append(("console", kind, text))
            if self.first_pending is None:
                self.first_pending = time.monotonic()
            self.cond.notify_all()

    def emit_status(
        self, status: str, exit_code: int | None = None, options: Message | None = None
    ) -> None:
        with self.cond:
            self.events.append(("status", status, exit_code, options))
            self.cond.notify_all()

    def _has_status(self) -> bool:
        return any(ev[0] == "status" for ev in self.events)

    def poll(self, wait: float) -> Message:
        deadline = time.monotonic() + wait
        with self.cond:
            while not self._has_status():
                now = time.monotonic()
                if self.first_pending is not None and now - self.first_pending >= FLUSH_DELAY:
                    break
                timeout = deadline - now
                if timeout <= 0:
                    break
                if self.first_pending is not None:
                    timeout = min(timeout, self.first_pending + FLUSH_DELAY - now)
                self.cond.wait(timeout)
            console: list[list[str]] = []
            status, exit_code, options = "continued", None, None
            taken = 0
            for ev in self.events:
                taken += 1
                if ev[0] == "console":
                    console.append([ev[1], ev[2]])
                else:
                    status, exit_code, options = ev[1], ev[2], ev[3]
                    break
            del self.events[:taken]
            self.first_pending = time.monotonic() if self.events else None
        if status == "finished":
            RUNS.forget(self.run_id)
        return {
            "type": "result",
            "run_id": self.run_id,
            "status": status,
            "console": console,
            "exit_code": exit_code,
            "options": options,
        }

    def request_input(self, is_password: bool) -> str:
        self.emit_status("waiting-input", None, {"is_password": is_password})
        return self.inputs.get()


class RunRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}

    def add(self, run: Run) -> None:
        with self._lock:
            if run.run_id in self._runs:
                raise RunnerError("run-exists", f"run {run.run_id} already exists")
            self._runs[run.run_id] = run

    def get(self, run_id: str) -> Run:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise RunnerError("unknown-run", f"no run {run_id}")
        return run

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def all(self) -> list[Run]:
        with self._lock:
            return list(self._runs.values())


RUNS = RunRegistry()


# ---------------------------------------------------------------------------------------------
# Query mode: user code runs in the main thread so SIGINT can interrupt any blocking call.


class ConsoleWriter(io.TextIOBase):
    """Replaces sys.stdout/sys.stderr: text goes to the current query run, else to the log."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, kind: str, fallback: Any) -> None:
        self.kind = kind
        self.fallback = fallback

    def write(self, text: str) -> int:
        run = EXECUTOR.current_run
        if run is None:
            self.fallback.write(text)
        else:
            run.emit_console(self.kind, str(text))
        return len(text)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self.fallback.flush()

    def fileno(self) -> int:
        return int(self.fallback.fileno())


class QueryExecutor:
    def __init__(self) -> None:
        self.namespace: Message = {"__name__": "__main__", "__builtins__": builtins}
        self.jobs: queue.Queue[tuple[Run, str]] = queue.Queue()
        self.lock = threading.Lock()
        self.current_run: Run | None = None
        self.executing = False

    def submit(self, run: Run, code: str) -> None:
        with self.lock:
            if self.current_run is not None:
                raise RunnerError("busy", "another query is running")
            self.current_run = run
        self.jobs.put((run, code))

    def interrupt(self, run: Run) -> None:
        run.interrupted = True
        if self.current_run is run and self.executing:
            signal.pthread_kill(MAIN_THREAD_ID, signal.SIGINT)

    def loop(self) -> None:
        while not SHUTDOWN.is_set():
            try:
                run, code = self.jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            exit_code = 130 if run.interrupted else self._execute(run, code)
            with self.lock:
                self.current_run = None
            run.emit_status("finished", exit_code)

    def _execute(self, run: Run, code: str) -> int:
        try:
            try:
                tree = ast.parse(code, "<input>", "exec")
                last: ast.Expression | None = None
                final = tree.body[-1] if tree.body else None
                if isinstance(final, ast.Expr):
                    tree.body.pop()
                    last = ast.Expression(final.value)
                body = compile(tree, "<input>", "exec")
                tail = compile(last, "<input>", "eval") if last is not None else None
                self.executing = True
                exec(body, self.namespace)
                if tail is not None:
                    value = eval(tail, self.namespace)
                    if value is not None:
                        self.namespace["_"] = value
                        print(repr(value))
            finally:
                self.executing = False
        except KeyboardInterrupt:
            run.emit_console("stderr", "KeyboardInterrupt\n")
            return 130
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:
            tb = exc.__traceback__
            if tb is not None and tb.tb_next is not None and not isinstance(exc, SyntaxError):
                tb = tb.tb_next  # hide the runner's own frame
            text = "".join(traceback.format_exception(type(exc), exc, tb))
            run.emit_console("stderr", text)
            return 1
        return 0


EXECUTOR = QueryExecutor()
_original_input = builtins.input
_original_getpass = getpass.getpass


def _ask(prompt: object, is_password: bool, fallback: Callable[[], str]) -> str:
    run = EXECUTOR.current_run
    if run is None or threading.get_ident() != MAIN_THREAD_ID:
        return fallback()
    if prompt:
        run.emit_console("stdout", str(prompt))
    return run.request_input(is_password)


def _query_input(prompt: object = "") -> str:
    return _ask(prompt, False, lambda: _original_input(prompt))


def _query_getpass(prompt: str = "Password: ", stream: Any = None) -> str:
    return _ask(prompt, True, lambda: _original_getpass(prompt, stream))


def _on_sigint(signum: int, frame: Any) -> None:
    if EXECUTOR.executing:
        raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------
# Batch mode: shell commands in subprocesses, clean -> build -> exec.


def _pump(run: Run, fd: int, kind: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except OSError:
            chunk = b""
        if not chunk:
            run.emit_console(kind, decoder.decode(b"", final=True))
            break
        run.emit_console(kind, decoder.decode(chunk))
    os.close(fd)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HOME", CONFIG.workdir)
    return env


def _run_command(run: Run, command: str) -> int:
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=CONFIG.workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(),
        start_new_session=True,
    )
    run.proc = proc
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(run, os.dup(proc.stdout.fileno()), "stdout")),
        threading.Thread(target=_pump, args=(run, os.dup(proc.stderr.fileno()), "stderr")),
    ]
    proc.stdout.close()
    proc.stderr.close()
    for t in pumps:
        t.daemon = True
        t.start()
    returncode = proc.wait()
    for t in pumps:
        t.join(timeout=5)
    run.proc = None
    return 128 - returncode if returncode < 0 else returncode


def _default_command(phase: str) -> str:
    if phase == "exec" and os.path.exists(os.path.join(CONFIG.workdir, "main.py")):
        return "python3 main.py"
    return ""


def run_batch(run: Run, options: Message) -> None:
    try:
        for phase, marker in (("clean", "clean-finished"), ("build", "build-finished")):
            command = options.get(phase, "*")
            command = _default_command(phase) if command == "*" else (command or "")
            if not command:
                continue
            code = _run_command(run, command)
            run.emit_status(marker, code)
            if code != 0 or run.interrupted:
                run.emit_status("finished", code)
                return
        command = options.get("exec", "*")
        command = _default_command("exec") if command == "*" else (command or "")
        code = _run_command(run, command) if command else 0
        run.emit_status("finished", code)
    except Exception as exc:
        log.exception("batch run failed", extra={"run_id": run.run_id})
        run.emit_console("stderr", f"runner: batch failed: {exc}\n")
        run.emit_status("finished", 127)


def interrupt_batch(run: Run) -> None:
    run.interrupted = True
    proc = run.proc
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        return

    def _kill_later() -> None:
        time.sleep(2.0)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    threading.Thread(target=_kill_later, daemon=True).start()


# ---------------------------------------------------------------------------------------------
# PTYs: interactive shells, used by pty-open and by the built-in raw terminal service.


def _shell_command() -> list[str]:
    return ["/bin/bash", "-l"] if os.path.exists("/bin/bash") else ["/bin/sh"]


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def spawn_pty(command: list[str], rows: int, cols: int) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # child: exec at once (the parent is multi-threaded)
        try:
            os.chdir(CONFIG.workdir)
            env = _child_env()
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


# ---------------------------------------------------------------------------------------------
# Service apps defined by BAI_SERVICE_PORTS.


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class ServiceManager:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: dict[str, subprocess.Popen] = {}
        self.listeners: dict[str, socket.socket] = {}

    def running(self, name: str) -> bool:
        proc = self.procs.get(name)
        return name in self.listeners or (proc is not None and proc.poll() is None)

    def list(self) -> builtins.list[Message]:
        return [
            {
                "name": name,
                "protocol": spec.get("protocol", "tcp"),
                "ports": spec.get("container_ports", []),
                "running": self.running(name),
            }
            for name, spec in sorted(CONFIG.services.items())
        ]

    def start(self, name: str, timeout: float) -> Message:
        spec = CONFIG.services.get(name)
        if spec is None:
            raise RunnerError("unknown-service", f"no service named {name!r}")
        ports = [int(p) for p in spec.get("container_ports", [])]
        if not ports:
            raise RunnerError("bad-service", f"service {name!r} has no ports")
        with self.lock:
            already = self.running(name)
            if already:
                pass  # a concurrent start may still be on its way: wait for the port below
            elif spec.get("protocol") == "pty" and not spec.get("command"):
                self._start_terminal(name, ports[0])
            else:
                self._start_process(name, spec, ports[0])
        deadline = time.monotonic() + timeout
        while not _port_open(ports[0]):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RunnerError("service-exited", f"{name} exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RunnerError("service-timeout", f"{name} did not open port {ports[0]}")
            time.sleep(0.1)
        if already:
            return {"type": "service", "name": name, "status": "already-running", "ports": ports}
        log.info("service started", extra={"service": name, "port": ports[0]})
        return {"type": "service", "name": name, "status": "started", "ports": ports}

    def _start_terminal(self, name: str, port: int) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", port))
        listener.listen(16)
        self.listeners[name] = listener
        _accept_forever(listener, serve_raw_terminal, "svc-" + name)

    def _start_process(self, name: str, spec: Message, port: int) -> None:
        command = spec.get("command")
        if not command and name == "http":
            command = ["python3", "-m", "http.server", "{port}", "--directory", CONFIG.workdir]
        if not command:
            raise RunnerError("bad-service", f"service {name!r} has no command")
        if isinstance(command, str):
            command = shlex.split(command)
        argv = [str(part).replace("{port}", str(port)) for part in command]
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=CONFIG.workdir,
            stdin=subprocess.DEVNULL,
            env=_child_env(),
            start_new_session=True,
        )

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)


SERVICES = ServiceManager()


# ---------------------------------------------------------------------------------------------
# Connections and request dispatch.


def _wait_arg(msg: Message) -> float:
    try:
        wait = float(msg.get("wait", DEFAULT_WAIT))
    except (TypeError, ValueError):
        raise RunnerError("bad-request", "wait must be a number") from None
    return max(0.0, min(wait, MAX_WAIT))


def _require(msg: Message, key: str) -> Any:
    if key not in msg:
        raise RunnerError("bad-request", f"missing field {key!r}")
    return msg[key]


class Connection:
    def __init__(self, sock: socket.socket, peer: Any) -> None:
        self.sock = sock
        self.peer = peer
        self.wlock = threading.Lock()
        self.ptys: dict[str, PtySession] = {}
        self.alive = True

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
                if line.strip():
                    self._dispatch(line)
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
        if not CONFIG.secret or not isinstance(secret, str):
            ok = False
        else:
            ok = hmac.compare_digest(secret.encode("utf-8"), CONFIG.secret.encode("utf-8"))
        if not ok:
            log.warning("authentication failed", extra={"peer": str(self.peer)})
            self.send({"type": "error", "code": "auth-failed", "message": "authentication failed"})
            return False
        self.send({"type": "auth-ok", "version": PROTOCOL_VERSION})
        return True

    def _dispatch(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
        except ValueError:
            self.send({"type": "error", "code": "bad-json", "message": "invalid JSON line"})
            return
        kind = msg.get("type")
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self._reply(msg, None, RunnerError("unknown-type", f"unknown type {kind!r}"))
        elif kind in INLINE:
            self._handle(handler, msg)
        else:
            threading.Thread(target=self._handle, args=(handler, msg), daemon=True).start()

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
        session = self.ptys.get(str(_require(msg, "pty_id")))
        if session is None:
            raise RunnerError("unknown-pty", "no such pty")
        return session


def h_ping(conn: Connection, msg: Message) -> Message:
    return {"type": "pong", "uptime": round(time.monotonic() - CONFIG.started, 3)}


def h_execute(conn: Connection, msg: Message) -> Message:
    mode = msg.get("mode", "query")
    run = Run(str(msg.get("run_id") or uuid.uuid4().hex), mode)
    if mode == "query":
        code = _require(msg, "code")
        if not isinstance(code, str):
            raise RunnerError("bad-request", "code must be a string")
        RUNS.add(run)
        try:
            EXECUTOR.submit(run, code)
        except RunnerError:
            RUNS.forget(run.run_id)
            raise
    elif mode == "batch":
        options = msg.get("options") or {}
        if not isinstance(options, dict):
            raise RunnerError("bad-request", "options must be an object")
        RUNS.add(run)
        threading.Thread(target=run_batch, args=(run, options), daemon=True).start()
    else:
        raise RunnerError("bad-request", f"unknown mode {mode!r}")
    return run.poll(_wait_arg(msg))


def h_continue(conn: Connection, msg: Message) -> Message:
    return RUNS.get(str(_require(msg, "run_id"))).poll(_wait_arg(msg))


def h_input(conn: Connection, msg: Message) -> Message:
    run = RUNS.get(str(_require(msg, "run_id")))
    run.inputs.put(str(msg.get("text", "")))
    return run.poll(_wait_arg(msg))


def h_interrupt(conn: Connection, msg: Message) -> Message:
    run_id = msg.get("run_id")
    if run_id:
        run = RUNS.get(str(run_id))
    else:
        current = EXECUTOR.current_run
        if current is None:
            return {"type": "interrupted", "run_id": None}
        run = current
    if run.mode == "batch":
        interrupt_batch(run)
    else:
        EXECUTOR.interrupt(run)
    return {"type": "interrupted", "run_id": run.run_id}


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
        data = base64.b64decode(str(_require(msg, "data")), validate=True)
    except ValueError:
        raise RunnerError("bad-request", "data must be base64") from None
    session.write(data)
    return {"type": "ok"}


def h_pty_resize(conn: Connection, msg: Message) -> Message:
    conn.pty(msg).resize(int(_require(msg, "rows")), int(_require(msg, "cols")))
    return {"type": "ok"}


def h_pty_close(conn: Connection, msg: Message) -> Message:
    conn.pty(msg).hangup()
    return {"type": "ok"}


def h_service_start(conn: Connection, msg: Message) -> Message:
    timeout = max(0.5, min(float(msg.get("timeout", 10.0)), 120.0))
    return SERVICES.start(str(_require(msg, "name")), timeout)


def h_service_list(conn: Connection, msg: Message) -> Message:
    return {"type": "services", "services": SERVICES.list()}


# ---------------------------------------------------------------------------------------------
# Session files (confined to the work directory)

MAX_FILE_CHUNK = 8 * 1024 * 1024  # base64 of this stays well under MAX_LINE


def _confined(path: object) -> str:
    """The real path of `path` (relative to the workdir, or absolute inside it)."""
    if not isinstance(path, str) or "\x00" in path:
        raise RunnerError("bad-request", "path must be a string")
    root = os.path.realpath(CONFIG.workdir)
    target = os.path.realpath(os.path.join(root, path))
    if target != root and not target.startswith(root + os.sep):
        raise RunnerError("forbidden-path", "path is outside the work directory")
    return target


def h_file_write(conn: Connection, msg: Message) -> Message:
    target = _confined(_require(msg, "path"))
    try:
        data = base64.b64decode(str(msg.get("data", "")), validate=True)
    except ValueError:
        raise RunnerError("bad-request", "data must be base64") from None
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "ab" if msg.get("append") else "wb") as fh:
            fh.write(data)
        size = os.path.getsize(target)
    except OSError as exc:
        raise RunnerError("file-error", str(exc)) from None
    return {"type": "ok", "size": size}


def h_file_list(conn: Connection, msg: Message) -> Message:
    folder = _confined(msg.get("path") or ".")
    if not os.path.isdir(folder):
        raise RunnerError("not-found", "no such directory")
    entries = []
    for name in sorted(os.listdir(folder)):
        try:
            info = os.lstat(os.path.join(folder, name))
        except OSError:
            continue
        entries.append(
            {
                "filename": name,
                "size": info.st_size,
                "mtime": info.st_mtime,
                "mode": stat.filemode(info.st_mode),
            }
        )
    return {"type": "files", "abspath": folder, "files": entries}


def h_file_archive(conn: Connection, msg: Message) -> Message:
    """A tar archive of one file or folder, returned in base64 chunks of MAX_FILE_CHUNK."""
    target = _confined(_require(msg, "path"))
    if not os.path.exists(target):
        raise RunnerError("not-found", "no such file")
    offset = int(msg.get("offset", 0))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(target, arcname=os.path.basename(target) or ".")
    data = buffer.getvalue()
    chunk = data[offset : offset + MAX_FILE_CHUNK]
    return {
        "type": "archive",
        "data": base64.b64encode(chunk).decode("ascii"),
        "size": len(data),
        "more": offset + len(chunk) < len(data),
    }


HANDLERS: dict[str, Callable[[Connection, Message], Message]] = {
    "ping": h_ping,
    "execute": h_execute,
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
}
# Quick requests are answered on the reader thread, which also keeps pty-write in order.
INLINE = {"ping", "interrupt", "pty-open", "pty-write", "pty-resize", "pty-close", "service-list"}


def _accept_forever(
    listener: socket.socket, serve: Callable[[socket.socket], None], name: str
) -> threading.Thread:
    def loop() -> None:
        while not SHUTDOWN.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                if SHUTDOWN.is_set():
                    return
                time.sleep(0.1)
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


def _serve_runner_client(client: socket.socket) -> None:
    Connection(client, client.getpeername()).serve()


def _on_sigterm(signum: int, frame: Any) -> None:
    SHUTDOWN.set()
    SERVICES.stop_all()
    for run in RUNS.all():
        if run.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, signal.SIGTERM)
    logging.shutdown()
    os._exit(0)


def main() -> int:
    global CONFIG
    logging.basicConfig(
        stream=sys.__stderr__,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    CONFIG = Config()
    if not CONFIG.secret:
        log.error("BAI_RUNNER_SECRET is not set; refusing to start")
        return 2
    sys.stdout = ConsoleWriter("stdout", sys.__stdout__)
    sys.stderr = ConsoleWriter("stderr", sys.__stderr__)
    builtins.input = _query_input
    getpass.getpass = _query_getpass
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)
    with contextlib.suppress(OSError):
        os.chdir(CONFIG.workdir)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", CONFIG.port))
    listener.listen(64)
    _accept_forever(listener, _serve_runner_client, "runner-accept")
    log.info("runner listening on port %d (protocol %d)", CONFIG.port, PROTOCOL_VERSION)
    EXECUTOR.loop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
