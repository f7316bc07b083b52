"""The official CLI in session mode (`BACKEND_ENDPOINT_TYPE=session`, COMPAT.md 2.8) against the
live ASGI server: `login`, commands through `/func/` on the login's cookie, `update-password`,
`logout`, and the shared login lockout."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from backendai_site.accounts.models import User
from backendai_site.config import get_config
from tests.factories.world import ComputeWorld
from tests.helpers.net import LiveServer

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456"  # make_member's
SessionCLI = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def session_cli(official_client: Path, live_api_server: LiveServer, tmp_path: Path) -> SessionCLI:
    """`backend.ai` in session mode; the cookie jar lives under this test's HOME."""

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{official_client.parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "BACKEND_ENDPOINT": live_api_server.url,
            "BACKEND_ENDPOINT_TYPE": "session",
        }
        return subprocess.run(
            [str(official_client), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            input=input,
            start_new_session=True,  # no controlling tty: getpass reads the password from stdin
        )

    return run


def out(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def cookie_jar(home: Path) -> Path:
    return home / ".local" / "state" / "backend.ai" / "cookie.dat"


class TestSessionModeLogin:
    def test_login_list_update_password_logout(
        self, session_cli: SessionCLI, world: ComputeWorld, tmp_path: Path
    ) -> None:
        email = world.user.user.email

        before = session_cli("session", "list")
        login = session_cli("login", input=f"{email}\n{PASSWORD}\n")
        listed = session_cli("session", "list")
        changed = session_cli("update-password", PASSWORD, "new-pw-7890", "new-pw-7890")
        still = session_cli("session", "list")
        logout = session_cli("logout")
        after = session_cli("session", "list")

        # `session list` lets the API error escape as a traceback (client side), but it is the 401
        assert before.returncode != 0 and "401" in out(before)
        assert login.returncode == 0 and "Login succeeded" in out(login), out(login)
        assert listed.returncode == 0, out(listed)
        assert "There are no compute sessions" in out(listed) or "Session ID" in out(listed)
        assert "Password updated" in out(changed), out(changed)
        assert User.objects.get(email=email).check_password("new-pw-7890")
        assert still.returncode == 0, out(still)
        assert logout.returncode == 0 and "Logout done" in out(logout), out(logout)
        assert not cookie_jar(tmp_path).exists()
        assert after.returncode != 0 and "401" in out(after), out(after)

    def test_session_mode_reaches_the_admin_graphql(
        self, session_cli: SessionCLI, world: ComputeWorld
    ) -> None:
        session_cli("login", input=f"{world.admin.user.email}\n{PASSWORD}\n")

        users = session_cli("admin", "user", "list")

        assert users.returncode == 0, out(users)
        assert world.user.user.email in out(users)

    def test_wrong_password_fails_and_repeated_failures_lock_the_login(
        self, session_cli: SessionCLI, world: ComputeWorld
    ) -> None:
        email = world.user.user.email
        wrong = session_cli("login", input=f"{email}\nnot-it\n")
        for _ in range(get_config().login_max_failures):
            session_cli("login", input=f"{email}\nnot-it\n")

        locked = session_cli("login", input=f"{email}\n{PASSWORD}\n")

        assert wrong.returncode == 1 and "Login failed" in out(wrong), out(wrong)
        assert "Login succeeded" not in out(locked)
        assert "429" in out(locked) and "Too many failed login attempts" in out(locked), out(locked)
