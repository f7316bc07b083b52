"""Runs: query mode (Python in the main thread) and batch mode (shell commands).

A run is an ordered event list (console chunks and status markers) the client polls.
"""

from __future__ import annotations

import ast
import builtins
import codecs
import contextlib
import getpass
import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import heuristics, protocol
from .protocol import (
    FLUSH_DELAY,
    MAIN_THREAD_ID,
    READ_CHUNK,
    SHUTDOWN,
    Message,
    RunnerError,
    child_env,
    log,
    require,
    wait_arg,
)

if TYPE_CHECKING:
    from .connection import Connection


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


def query_input(prompt: object = "") -> str:
    return _ask(prompt, False, lambda: _original_input(prompt))


def query_getpass(prompt: str = "Password: ", stream: Any = None) -> str:
    return _ask(prompt, True, lambda: _original_getpass(prompt, stream))


def on_sigint(signum: int, frame: Any) -> None:
    if EXECUTOR.executing:
        raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------
# Batch mode: shell commands in subprocesses, clean -> build -> exec.


def _pump(run: Run, fd: int, kind: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    # A batch command's output also goes to the container's log, as a container's main command
    # would (`session logs` shows it, during the run and after the session ended).
    container_stream = sys.__stdout__ if kind == "stdout" else sys.__stderr__
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except OSError:
            chunk = b""
        text = decoder.decode(chunk, final=not chunk)
        run.emit_console(kind, text)
        _container_log(container_stream, text)
        if not chunk:
            break
    os.close(fd)


def _container_log(stream: Any, text: str) -> None:
    if not text or stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        stream.write(text)
        stream.flush()


def _run_command(run: Run, command: str) -> int:
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=protocol.CONFIG.workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
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


def _phase_command(options: Message, phase: str) -> str:
    command = options.get(phase, "*")
    if command != "*":
        return str(command or "")
    return heuristics.default_build() if phase == "build" else ""


def run_batch(run: Run, options: Message) -> None:
    uploads = heuristics.take_uploads()
    try:
        for phase, marker in (("clean", "clean-finished"), ("build", "build-finished")):
            command = _phase_command(options, phase)
            if not command:
                continue
            code = _run_command(run, command)
            run.emit_status(marker, code)
            if code != 0 or run.interrupted:
                run.emit_status("finished", code)
                return
        command = options.get("exec", "*")
        if command == "*":
            command, missing = heuristics.default_exec(uploads)
            if missing is not None:
                run.emit_console("stderr", f"runner: {missing}\n")
                run.emit_status("finished", heuristics.NOT_FOUND_EXIT_CODE)
                return
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


def h_execute(conn: Connection, msg: Message) -> Message:
    mode = msg.get("mode", "query")
    run = Run(str(msg.get("run_id") or uuid.uuid4().hex), mode)
    if mode == "query":
        code = require(msg, "code")
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
    return run.poll(wait_arg(msg))


def h_continue(conn: Connection, msg: Message) -> Message:
    return RUNS.get(str(require(msg, "run_id"))).poll(wait_arg(msg))


def h_input(conn: Connection, msg: Message) -> Message:
    run = RUNS.get(str(require(msg, "run_id")))
    run.inputs.put(str(msg.get("text", "")))
    return run.poll(wait_arg(msg))


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
