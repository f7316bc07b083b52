"""`backend.ai session ssh` and `session scp` of the official client against a live stack
(marker `docker`): the client downloads `id_container` from the session, opens
`backend.ai app SESSION sshd` on a local port and runs the system's ssh/scp through it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sessions_app.models import Session
from tests.helpers.credentials import Credentials
from tests.helpers.interactive import Runner as Cli
from tests.helpers.interactive import api
from tests.helpers.net import free_port
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.docker, pytest.mark.client]

SESSION = "e2e-ssh"


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
        out = ok(cli(stack, owner, "session", "ssh", SESSION, "-p", port, "cat local.txt"), stack)
        assert out == "scp-payload-7\n"
        back = tmp_path / "back.txt"
        ok(
            cli(stack, owner, "session", "scp", SESSION, "-p", port,
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
