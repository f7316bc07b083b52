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
from .protocol import Message, RunnerError, child_env, log, require
from .sshd import sshd_argv

if TYPE_CHECKING:
    from .connection import Connection


def runner_served(spec: Message) -> bool:
    """The built-in terminal (a `pty` service without a command): no port is opened for it;
    each `tunnel` request on an authenticated runner connection gets a shell of its own."""
    return spec.get("protocol") == "pty" and not spec.get("command")


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

    def running(self, name: str) -> bool:
        spec = protocol.CONFIG.services.get(name)
        if spec is not None and runner_served(spec):
            return True
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

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
        if runner_served(spec):
            return {"type": "service", "name": name, "status": "on-demand", "ports": ports}
        with self.lock:
            already = self.running(name)
            if not already:  # else a concurrent start may be on its way: wait for the port
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
        if not command and name == "sshd":
            command = sshd_argv(port)
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
