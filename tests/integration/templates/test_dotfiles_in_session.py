"""Dotfiles reach a real container's home before its bootstrap script runs (marker `docker`):
set through the official CLI at user and domain scope, read back inside the session, the user's
file winning over the domain's on the same path; the same through a session template whose own
bootstrap script reads them, through the SDK's `ComputeSession.create_from_template` (the CLI's
`session create-from-template` fails client-side with a TypeError: docs/compat/
templates-dotfiles.md)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack, client_env

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]

# Copies what the home holds when the script runs; `set -e`: a missing file fails the create.
BOOTSTRAP = (
    "set -e\n"
    "cp ~/.bashrc ~/boot-saw-bashrc\n"
    "cp ~/.config/x.conf ~/boot-saw-conf\n"
    "stat -c %a ~/.config/x.conf > ~/boot-saw-mode\n"
)

# Run inside the session by `backend.ai run`: the files and their modes and owners.
READ_BACK = """
import json, os
home = os.path.expanduser("~")
paths = [".bashrc", ".config/x.conf", "boot-saw-bashrc", "boot-saw-conf", "boot-saw-mode"]
seen = {}
for rel in paths:
    full = os.path.join(home, rel)
    st = os.stat(full)
    seen[rel] = {"data": open(full).read(), "mode": oct(st.st_mode & 0o777), "uid": st.st_uid}
print("SEEN=" + json.dumps({"home": home, "uid": os.getuid(), "files": seen}))
"""

# The SDK call the CLI's create-from-template means to make, in the client's own virtualenv.
FROM_TEMPLATE = """
import sys
from ai.backend.client.session import Session
with Session() as api:
    created = api.ComputeSession.create_from_template(sys.argv[1], name=sys.argv[2])
    print("CREATED=" + str(created.id))
"""


@pytest.fixture
def people(platform_stack: Stack) -> dict[str, Credentials]:
    project = default_tenancy_ensure().project
    return {
        "user": make_member(project, "dot-user@example.com"),
        "admin": make_member(project, "dot-admin@example.com", UserRole.ADMIN),
    }


def ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in out, f"{out}\n{stack.logs()}"
    return out


def dotfiles_set(stack: Stack, cli: Cli, people: dict[str, Credentials], tmp_path: Path) -> None:
    """A user `.bashrc` over the domain's, and a domain-only `.config/x.conf` (mode 600)."""
    (tmp_path / "user-bashrc").write_text("export FROM=user\n")
    (tmp_path / "domain-bashrc").write_text("export FROM=domain\n")
    (tmp_path / "x.conf").write_text("domain-conf\n")
    user, admin = people["user"], people["admin"]
    ok(cli(stack, user, "dotfile", "create", ".bashrc", "-f", str(tmp_path / "user-bashrc"),
           "--perm", "644"), stack)  # fmt: skip
    ok(cli(stack, admin, "dotfile", "create", ".bashrc", "-f", str(tmp_path / "domain-bashrc"),
           "-d", "default"), stack)  # fmt: skip
    ok(cli(stack, admin, "dotfile", "create", ".config/x.conf", "-f", str(tmp_path / "x.conf"),
           "--perm", "600", "-d", "default"), stack)  # fmt: skip


def read_back(stack: Stack, cli: Cli, user: Credentials, name: str) -> dict[str, Any]:
    out = ok(cli(stack, user, "run", "-t", name, "-c", READ_BACK, "python"), stack)
    match = re.search(r"^SEEN=(.*)$", out, re.MULTILINE)
    assert match, f"{out}\n{stack.logs()}"
    seen: dict[str, Any] = json.loads(match.group(1))
    return seen


def assert_dotfiles_before_bootstrap(seen: dict[str, Any]) -> None:
    files = seen["files"]
    assert seen["home"] == "/home/work"
    assert files[".bashrc"]["data"] == "export FROM=user\n"  # the user's over the domain's
    assert files[".bashrc"]["mode"] == "0o644"
    assert files[".config/x.conf"] == {"data": "domain-conf\n", "mode": "0o600", "uid": seen["uid"]}
    # what the bootstrap script saw: the files were already there, with their modes
    assert files["boot-saw-bashrc"]["data"] == "export FROM=user\n"
    assert files["boot-saw-conf"]["data"] == "domain-conf\n"
    assert files["boot-saw-mode"]["data"] == "600\n"


class TestDotfilesInSession:
    def test_session_create_with_a_bootstrap_script_sees_the_dotfiles(
        self, platform_stack: Stack, people: dict[str, Credentials], cli: Cli, tmp_path: Path
    ) -> None:
        stack, user = platform_stack, people["user"]
        dotfiles_set(stack, cli, people, tmp_path)
        (tmp_path / "boot.sh").write_text(BOOTSTRAP)

        ok(cli(stack, user, "session", "create", "python", "-t", "e2e-dot",
               "--bootstrap-script", str(tmp_path / "boot.sh")), stack)  # fmt: skip
        seen = read_back(stack, cli, user, "e2e-dot")

        assert_dotfiles_before_bootstrap(seen)
        session = Session.objects.get(name="e2e-dot")
        assert session.status == SessionStatus.RUNNING
        ok(cli(stack, user, "session", "destroy", "e2e-dot"), stack)

    def test_a_template_whose_bootstrap_reads_the_dotfiles(
        self, platform_stack: Stack, people: dict[str, Credentials], cli: Cli, tmp_path: Path,
        official_client: Path,
    ) -> None:  # fmt: skip
        stack, user = platform_stack, people["user"]
        dotfiles_set(stack, cli, people, tmp_path)
        template = {
            "api_version": "6",
            "kind": "taskTemplate",
            "metadata": {"name": "dot-tpl"},
            "spec": {
                "session_type": "interactive",
                "kernel": {"image": "python", "run": {"bootstrap": BOOTSTRAP}},
            },
        }
        (tmp_path / "tpl.json").write_text(json.dumps(template))

        created = ok(cli(stack, user, "session-template", "create", "-f",
                         str(tmp_path / "tpl.json")), stack)  # fmt: skip
        match = re.search(r"Task template ([0-9a-f]{32}) created", created)
        assert match, created
        sdk = subprocess.run(
            [str(official_client.parent / "python"), "-c", FROM_TEMPLATE, match.group(1),
             "e2e-dot-tpl"],
            cwd=tmp_path, env=client_env(official_client, stack, user, tmp_path),
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert "CREATED=" in ok(sdk, stack)
        seen = read_back(stack, cli, user, "e2e-dot-tpl")

        assert_dotfiles_before_bootstrap(seen)
        session = Session.objects.get(name="e2e-dot-tpl")
        assert session.bootstrap_script == BOOTSTRAP
        ok(cli(stack, user, "session", "destroy", "e2e-dot-tpl"), stack)
