"""Session extras end to end (issue 12 item 7) with the official CLI and SDK on a real Docker
stack, one stack for all checks: a finished batch session's `session logs` and `task-logs`
show the command's stdout and stderr; `run FILE` without --exec runs the file; the SDK's
`complete` answers candidates from the session's interpreter."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack, client_env
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]

COMPLETE_SDK = """
import json, sys
from ai.backend.client.session import Session
with Session() as api:
    session = api.ComputeSession(sys.argv[1])
    session.execute(code="zeta_value = 42", mode="query")
    print(json.dumps(session.complete("print(zeta_v", {"row": 0, "col": 12})))
"""


def _text(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def _ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    assert result.returncode == 0, f"{_text(result)}\n{stack.logs()}"
    assert "Traceback" not in _text(result), _text(result)
    return _text(result)


def _status(name: str) -> str:
    return str(Session.objects.filter(name=name).values_list("status", flat=True).first())


def test_batch_logs_run_file_and_completion(
    platform_stack: Stack, cli: Cli, official_client: Path, tmp_path: Path
) -> None:
    stack = platform_stack
    owner: Credentials = make_member(default_tenancy_ensure().project, "extras@example.com")

    # a. a finished batch session keeps its command's stdout and stderr
    command = 'python3 -c \'import sys; print("out-marker"); print("err-marker", file=sys.stderr)\''
    _ok(cli(stack, owner, "session", "create", "python", "-t", "e2e-xlogs", "--type", "batch",
            "-c", command, "--enqueue-only"), stack)  # fmt: skip
    wait_for(lambda: _status("e2e-xlogs") == SessionStatus.TERMINATED, 120, "batch end")
    logs = _ok(cli(stack, owner, "session", "logs", "e2e-xlogs"), stack)
    session = Session.objects.get(name="e2e-xlogs")
    task = _ok(cli(stack, owner, "task-logs", str(session.pk)), stack)
    assert "out-marker" in logs and "err-marker" in logs
    assert "out-marker" in task and "err-marker" in task

    # e. `run FILE` without --exec runs the file (and not silently nothing)
    (tmp_path / "hello_extras.py").write_text("print('ran', 6 * 7)\n")
    ran = _ok(cli(stack, owner, "run", "-t", "e2e-xrun", "python", "hello_extras.py"), stack)
    assert "ran 42" in ran
    assert "exit code = 0" in ran

    # d. completion in the same (still running) session, through the SDK
    completed = subprocess.run(
        [str(official_client.parent / "python"), "-c", COMPLETE_SDK, "e2e-xrun"],
        env=client_env(official_client, stack, owner, tmp_path), cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, f"{_text(completed)}\n{stack.logs()}"
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["result"]["completions"] == ["zeta_value"]

    _ok(cli(stack, owner, "session", "destroy", "e2e-xrun"), stack)
