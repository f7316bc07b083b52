"""`backend.ai session ssh` and `session scp` of the official client against a live stack
(marker `docker`): the client downloads `id_container` from the session, opens
`backend.ai app SESSION sshd` on a local port and runs the system's ssh/scp through it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sessions_app.models import Session
from tests.helpers import processes
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import api
from tests.helpers.net import free_port
from tests.helpers.stack import Stack, client_env

pytestmark = [pytest.mark.docker, pytest.mark.client]

SESSION = "e2e-ssh"
# How long the client's `backend.ai app` proxy may outlive ssh/scp before it counts as hung.
PROXY_GRACE_SECONDS = 10.0

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_app_proxy(argv: list[str]) -> bool:
    return "ai.backend.cli" in argv and "app" in argv


def _listening_inodes() -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    return inodes


def _listens(pid: int) -> bool:
    listening = _listening_inodes()
    try:
        links = [os.readlink(entry) for entry in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return any(link.startswith("socket:[") and link[8:-1] in listening for link in links)


@pytest.fixture
def cli(official_client: Path, tmp_path: Path) -> Cli:
    """`backend.ai` against a stack, with a workaround for a client race (docs/compat/ssh.md):
    `session ssh`/`scp` end their app proxy with SIGINT and wait for it forever, and that proxy
    sometimes never exits. Once only the proxy is left, its listening socket closed (it has had
    its SIGINT), for PROXY_GRACE_SECONDS, the proxy is killed, so the client exits with ssh's
    own status."""

    def run(
        stack: Stack, creds: Credentials, *args: str, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        process = subprocess.Popen(
            [str(official_client), *args],
            cwd=tmp_path,
            env=client_env(official_client, stack, creds, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        proxy_alone_since: float | None = None
        try:
            while True:
                try:
                    stdout, stderr = process.communicate(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        raise
                members = {
                    pid: _argv(pid)
                    for pid in processes.group_members(process.pid)
                    if pid != process.pid
                }
                proxies = [pid for pid, argv in members.items() if _is_app_proxy(argv)]
                # a proxy that closed its listening socket has had its SIGINT: ssh/scp is done
                stopping = [pid for pid in proxies if not _listens(pid)]
                if not (stopping and len(stopping) == len(members)):
                    proxy_alone_since = None
                    continue
                proxy_alone_since = proxy_alone_since or time.monotonic()
                if time.monotonic() - proxy_alone_since > PROXY_GRACE_SECONDS:
                    for pid in proxies:
                        os.kill(pid, signal.SIGKILL)
        finally:
            processes.group_kill(process.pid)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    return run


def ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{stack.logs()}"
    return result.stdout


class TestSessionSSH:
    def test_ssh_and_scp_through_the_app_tunnel(
        self, platform_stack: Stack, owner: Credentials, stranger: Credentials, cli: Cli,
        tmp_path: Path,
    ) -> None:  # fmt: skip
        stack = platform_stack
        ok(cli(stack, owner, "session", "create", "python", "-t", SESSION), stack)
        sid = str(Session.objects.get(name=SESSION).pk)
        status, apps = api(stack, owner, "GET", f"/stream/session/{sid}/apps")
        assert status == 200, apps
        assert {"name": "sshd", "protocol": "tcp", "ports": [2200]} in apps

        # -- a remote command: the owner's key is in the session, sshd runs as `work` --------
        port = str(free_port())
        out = ok(
            cli(stack, owner, "session", "ssh", SESSION, "-p", port,
                "echo ssh-$((40+2)); whoami; python -c 'print(6*7)'"),
            stack,
        )  # fmt: skip
        assert out.split() == ["ssh-42", "work", "42"], out
        # the client removed the downloaded key again
        assert not any((tmp_path / ".ssh").glob("id_*"))

        # -- scp up, then down -------------------------------------------------------------
        local = tmp_path / "local.txt"
        local.write_text("scp-payload-7\n")
        port = str(free_port())
        ok(
            cli(stack, owner, "session", "scp", SESSION, "-p", port,
                str(local), "work@localhost:/home/work/"),
            stack,
        )  # fmt: skip
        port = str(free_port())
        # the top-level aliases `ssh` and `scp` are the same commands
        out = ok(cli(stack, owner, "ssh", SESSION, "-p", port, "cat local.txt"), stack)
        assert out == "scp-payload-7\n"
        back = tmp_path / "back.txt"
        port = str(free_port())
        ok(
            cli(stack, owner, "scp", SESSION, "-p", port,
                "work@localhost:local.txt", str(back)),
            stack,
        )  # fmt: skip
        assert back.read_text() == "scp-payload-7\n"

        # -- another user reaches neither the key nor the tunnel ------------------------------
        result = cli(stack, stranger, "session", "ssh", sid, "-p", port, "echo stranger-in")
        assert result.returncode != 0
        assert "stranger-in" not in result.stdout
        assert "Failed to download the SSH key" in result.stdout + result.stderr

    def test_a_replaced_key_reaches_new_sessions(
        self, platform_stack: Stack, owner: Credentials, cli: Cli
    ) -> None:
        stack = platform_stack
        status, body = api(stack, owner, "PATCH", "/auth/ssh-keypair")
        assert status == 200, body
        ok(cli(stack, owner, "session", "create", "python", "-t", "e2e-ssh-new"), stack)
        port = str(free_port())
        out = ok(
            cli(stack, owner, "session", "ssh", "e2e-ssh-new", "-p", port,
                "cat .ssh/authorized_keys"),
            stack,
        )  # fmt: skip
        assert out.strip() == body["ssh_public_key"]
