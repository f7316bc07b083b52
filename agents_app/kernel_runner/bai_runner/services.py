"""Service apps defined by BAI_SERVICE_PORTS, started on request."""

from __future__ import annotations

import builtins
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from typing import TYPE_CHECKING

from . import protocol
from .protocol import Message, RunnerError, accept_forever, child_env, log, require
from .pty import serve_raw_terminal

if TYPE_CHECKING:
    from .connection import Connection


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
            for name, spec in sorted(protocol.CONFIG.services.items())
        ]

    def start(self, name: str, timeout: float) -> Message:
        spec = protocol.CONFIG.services.get(name)
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
        accept_forever(listener, serve_raw_terminal, "svc-" + name)

    def _start_process(self, name: str, spec: Message, port: int) -> None:
        command = spec.get("command")
        if not command and name == "http":
            command = [
                "python3",
                "-m",
                "http.server",
                "{port}",
                "--directory",
                protocol.CONFIG.workdir,
            ]
        if not command:
            raise RunnerError("bad-service", f"service {name!r} has no command")
        if isinstance(command, str):
            command = shlex.split(command)
        argv = [str(part).replace("{port}", str(port)) for part in command]
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=protocol.CONFIG.workdir,
            stdin=subprocess.DEVNULL,
            env=child_env(),
            start_new_session=True,
        )

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)


SERVICES = ServiceManager()


def h_service_start(conn: Connection, msg: Message) -> Message:
    timeout = max(0.5, min(float(msg.get("timeout", 10.0)), 120.0))
    return SERVICES.start(str(require(msg, "name")), timeout)


def h_service_list(conn: Connection, msg: Message) -> Message:
    return {"type": "services", "services": SERVICES.list()}
