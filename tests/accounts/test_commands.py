from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backendai_site.accounts.models import Domain, KeyPair, Project, User
from backendai_site.config import get_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(get_config(), "data_dir", tmp_path)
    return tmp_path


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


class TestBootstrapCommand:
    def test_creates_defaults_superadmin_and_credentials(self, data_dir: Path) -> None:
        call_command("bootstrap", "--endpoint", "http://127.0.0.1:9999", stdout=StringIO())

        env = read_env(data_dir / "credentials.env")
        admin = User.objects.get(email="admin@lablup.com")
        assert admin.role == "superadmin" and admin.check_password(env["BAI_ADMIN_PASSWORD"])
        assert env["BACKEND_ENDPOINT"] == "http://127.0.0.1:9999"
        assert KeyPair.objects.get(access_key=env["BACKEND_ACCESS_KEY"]).user == admin
        assert len(env["BACKEND_SECRET_KEY"]) == 40
        assert Domain.objects.filter(name="default").exists()
        assert Project.objects.filter(name="default", members=admin).exists()

    def test_is_idempotent(self, data_dir: Path) -> None:
        call_command("bootstrap", stdout=StringIO())
        first = read_env(data_dir / "credentials.env")

        call_command("bootstrap", stdout=StringIO())
        second = read_env(data_dir / "credentials.env")

        assert first == second
        assert User.objects.count() == 1 and KeyPair.objects.count() == 1

    def test_secret_is_not_stored_in_plain_text(self, data_dir: Path) -> None:
        call_command("bootstrap", stdout=StringIO())
        env = read_env(data_dir / "credentials.env")

        keypair = KeyPair.objects.get(access_key=env["BACKEND_ACCESS_KEY"])

        assert env["BACKEND_SECRET_KEY"] not in keypair.secret_key_encrypted


class TestIssueKeypairCommand:
    def test_prints_a_new_keypair(self, data_dir: Path) -> None:
        call_command("bootstrap", stdout=StringIO())
        out = StringIO()

        call_command("issue_keypair", "admin@lablup.com", stdout=out)

        lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
        assert KeyPair.objects.filter(access_key=lines["BACKEND_ACCESS_KEY"]).exists()

    def test_unknown_email_fails(self, data_dir: Path) -> None:
        with pytest.raises(CommandError):
            call_command("issue_keypair", "nobody@example.com", stdout=StringIO())
