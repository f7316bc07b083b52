"""The official CLI's top-level aliases of session commands (`create`, `info`, `apps`, `restart`,
`events`, `destroy`, `watch`) reach the same endpoints as their `session ...` forms, and
`session watch` follows a batch session to its end."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.sessions import status_of
from tests.helpers.stack import Stack, client_env
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def owner(platform_stack: Stack) -> Credentials:
    defaults = default_tenancy_ensure()
    return make_member(defaults.project, "e2e-alias@example.com")


def ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output}\n{stack.logs()}"
    assert "Traceback" not in output, output
    return output


def follow_cli(official_client: Path, stack: Stack, owner: Credentials, tmp_path: Path,
           *args: str) -> subprocess.Popen[str]:  # fmt: skip
    return subprocess.Popen(
        [str(official_client), *args],
        cwd=tmp_path,
        env=client_env(official_client, stack, owner, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str], timeout: float) -> tuple[int, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    finally:  # a failed wait must not leave the client streaming events after the test
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return process.returncode, out + err


def test_top_level_aliases_drive_a_session(
    platform_stack: Stack, owner: Credentials, cli: Cli, official_client: Path, tmp_path: Path
) -> None:
    stack = platform_stack
    name = "e2e-alias"

    ok(cli(stack, owner, "create", "python", "-t", name), stack)
    session = Session.objects.get(name=name)
    assert session.status == SessionStatus.RUNNING
    info = ok(cli(stack, owner, "info", str(session.pk)), stack)
    apps = ok(cli(stack, owner, "apps", name), stack)
    assert name in info and "RUNNING" in info
    assert "jupyter" in apps or "ttyd" in apps or "sshd" in apps, apps

    ok(cli(stack, owner, "restart", name), stack)
    wait_for(lambda: status_of(name) == SessionStatus.RUNNING, 90, "restart")

    events = follow_cli(official_client, stack, owner, tmp_path, "events", name)
    ok(cli(stack, owner, "destroy", name), stack)
    _, streamed = finished(events, 90)

    assert "session_terminated" in streamed, streamed
    wait_for(lambda: status_of(name) == SessionStatus.TERMINATED, 60, "terminated")


def test_watch_follows_batch_sessions_to_their_end(
    platform_stack: Stack, owner: Credentials, cli: Cli, official_client: Path, tmp_path: Path
) -> None:
    stack = platform_stack
    for name in ("e2e-watch-a", "e2e-watch-b"):
        ok(cli(stack, owner, "session", "create", "python", "-t", name, "--type", "batch",
               "-c", "sleep 5; echo watched", "--enqueue-only"), stack)  # fmt: skip

    short = follow_cli(official_client, stack, owner, tmp_path, "watch", "e2e-watch-a")
    long = follow_cli(official_client, stack, owner, tmp_path, "session", "watch", "e2e-watch-b")
    results = [finished(short, 120), finished(long, 120)]

    for code, watched in results:
        assert code == 0, f"{watched}\n{stack.logs()}"
        assert "session_success" in watched, watched
