"""Every `backend.ai vfolder` command of the official client (26.9.6) against the live server."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, Project, ProjectMembership
from storage_app.enums import VFolderStatus
from storage_app.models import VFolder
from storage_app.services.volumes import vfolder_root
from tests.factories.accounts import ProjectFactory
from tests.helpers.credentials import Credentials, make_credentials
from tests.helpers.net import LiveServer

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def vf_cli(official_client: Path, live_api_server: LiveServer, tmp_path: Path) -> Cli:
    def run(
        creds: Credentials, *args: str, stdin: str = "", timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{official_client.parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "BACKEND_ENDPOINT": live_api_server.url,
            "BACKEND_ENDPOINT_TYPE": "api",
            "BACKEND_ACCESS_KEY": creds.access_key,
            "BACKEND_SECRET_KEY": creds.secret_key,
        }
        return subprocess.run(
            [str(official_client), *args], cwd=tmp_path, env=env, input=stdin,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output, output
    return output


@pytest.fixture
def owner(volume: object, domain: Domain) -> Credentials:
    return make_credentials(email="owner@example.com", username="owner", domain=domain)


@pytest.fixture
def guest(volume: object, domain: Domain) -> Credentials:
    return make_credentials(email="guest@example.com", username="guest", domain=domain)


def _folder(name: str) -> VFolder:
    return VFolder.objects.exclude(status=VFolderStatus.DELETE_COMPLETE).get(name=name)


class TestVFolderCommands:
    def test_folder_and_file_commands(
        self, vf_cli: Cli, owner: Credentials, tmp_path: Path
    ) -> None:
        assert "local:volume1" in ok(vf_cli(owner, "vfolder", "list-hosts"))
        ok(vf_cli(owner, "vfolder", "create", "myvf", "local:volume1"))
        listed = ok(vf_cli(owner, "vfolder", "list"))
        assert "myvf" in listed
        info = ok(vf_cli(owner, "vfolder", "info", "myvf"))
        assert "Owner: True" in info and "Ownership Type: user" in info

        ok(vf_cli(owner, "vfolder", "mkdir", "myvf", "d1", "d2/d3", "-p"))
        (tmp_path / "a.txt").write_text("hello folder")
        (tmp_path / "empty.txt").write_text("")
        tree = tmp_path / "updir"
        (tree / "sub").mkdir(parents=True)
        (tree / "x.txt").write_text("x")
        (tree / "sub" / "y.txt").write_text("y" * 5000)
        ok(vf_cli(owner, "vfolder", "upload", "myvf", "a.txt", "empty.txt"))
        ok(vf_cli(owner, "vfolder", "upload", "myvf", "updir", "-r"))
        root = vfolder_root(_folder("myvf"))
        assert (root / "a.txt").read_text() == "hello folder"
        assert (root / "empty.txt").exists()
        assert (root / "updir" / "sub" / "y.txt").read_text() == "y" * 5000

        ls = ok(vf_cli(owner, "vfolder", "ls", "myvf"))
        assert "a.txt" in ls and "updir" in ls and "d1" in ls
        assert "y.txt" in ok(vf_cli(owner, "vfolder", "ls", "myvf", "updir/sub"))

        (tmp_path / "a.txt").unlink()
        ok(vf_cli(owner, "vfolder", "download", "myvf", "a.txt"))
        assert (tmp_path / "a.txt").read_text() == "hello folder"

        ok(vf_cli(owner, "vfolder", "rename-file", "myvf", "a.txt", "b.txt"))
        ok(vf_cli(owner, "vfolder", "mv", "myvf", "b.txt", "d1/"))
        assert (root / "d1" / "b.txt").read_text() == "hello folder"
        ok(vf_cli(owner, "vfolder", "rm", "myvf", "d1", "-r", stdin="y\n"))
        assert not (root / "d1").exists()

        ok(vf_cli(owner, "vfolder", "rename", "myvf", "myvf2"))
        assert _folder("myvf2").pk
        ok(vf_cli(owner, "vfolder", "delete", "myvf2"))
        assert _folder("myvf2").status == VFolderStatus.DELETE_PENDING
        ok(vf_cli(owner, "vfolder", "restore", "myvf2"))
        assert _folder("myvf2").status == VFolderStatus.READY
        ok(vf_cli(owner, "vfolder", "delete", "myvf2"))
        ok(vf_cli(owner, "vfolder", "purge", "myvf2"))
        assert not root.exists()
        assert "myvf2" not in ok(vf_cli(owner, "vfolder", "list"))

    def test_invite_accept_leave(self, vf_cli: Cli, owner: Credentials, guest: Credentials) -> None:
        ok(vf_cli(owner, "vfolder", "create", "shared1"))
        invited = ok(vf_cli(owner, "vfolder", "invite", "shared1", guest.user.email, "-p", "ro"))
        assert guest.user.email in invited
        accepted = ok(vf_cli(guest, "vfolder", "invitations", stdin="1\na\n"))
        assert "You can now access vfolder shared1" in accepted
        assert "shared1" in ok(vf_cli(guest, "vfolder", "list-invited"))
        info = ok(vf_cli(guest, "vfolder", "info", "shared1"))
        assert "Owner: False" in info and "Permission: ro" in info
        ok(vf_cli(guest, "vfolder", "leave", "shared1"))
        assert "shared1" not in ok(vf_cli(guest, "vfolder", "list"))

    def test_share_a_project_folder(
        self, vf_cli: Cli, guest: Credentials, domain: Domain, volume: object
    ) -> None:
        admin = make_credentials(
            email="dadmin@example.com", username="dadmin", domain=domain, role=UserRole.ADMIN
        )
        project: Project = ProjectFactory.create(name="team", domain=domain)
        for creds in (admin, guest):
            ProjectMembership.objects.create(project=project, user=creds.user)
        ok(vf_cli(admin, "vfolder", "create", "teamvf", "-g", str(project.pk)))
        assert "teamvf" in ok(vf_cli(guest, "vfolder", "list-project"))
        shared = ok(vf_cli(admin, "vfolder", "share", "teamvf", guest.user.email, "-p", "ro"))
        assert guest.user.email in shared
        assert "Permission: ro" in ok(vf_cli(guest, "vfolder", "info", "teamvf"))
        ok(vf_cli(admin, "vfolder", "unshare", "teamvf", guest.user.email))

    def test_large_file_round_trip_by_sha256(
        self, vf_cli: Cli, owner: Credentials, tmp_path: Path
    ) -> None:
        big = tmp_path / "big.bin"
        digest = hashlib.sha256()
        with big.open("wb") as out:
            for _ in range(200):
                block = os.urandom(1024 * 1024)
                digest.update(block)
                out.write(block)
        ok(vf_cli(owner, "vfolder", "create", "bigvf"))
        ok(vf_cli(owner, "vfolder", "upload", "bigvf", "big.bin"))
        big.unlink()
        ok(vf_cli(owner, "vfolder", "download", "bigvf", "big.bin"))
        got = hashlib.sha256()
        with big.open("rb") as f:
            while block := f.read(1024 * 1024):
                got.update(block)
        assert got.hexdigest() == digest.hexdigest()
        assert _folder("bigvf").cur_size == 200 * 1024 * 1024

    def test_errors_are_readable(self, vf_cli: Cli, owner: Credentials, guest: Credentials) -> None:
        ok(vf_cli(owner, "vfolder", "create", "private1"))
        result = vf_cli(guest, "vfolder", "info", "private1")
        assert result.returncode != 0
        assert "Virtual folder not found" in result.stdout + result.stderr


class TestAdminCommands:
    def test_admin_vfolder_and_storage_commands(
        self, vf_cli: Cli, owner: Credentials, domain: Domain
    ) -> None:
        root = make_credentials(
            email="root@example.com", username="root", domain=domain, role=UserRole.SUPERADMIN
        )
        ok(vf_cli(owner, "vfolder", "create", "ownedvf"))
        assert "ownedvf" in ok(vf_cli(root, "admin", "vfolder", "list"))
        assert "local:volume1" in ok(vf_cli(root, "admin", "vfolder", "list-hosts"))
        listed = ok(vf_cli(root, "admin", "storage", "list"))
        assert "local:volume1" in listed and "vfs" in listed
        info = ok(vf_cli(root, "admin", "storage", "info", "local:volume1"))
        assert "vfs" in info
        assert "ownedvf" not in ok(vf_cli(make_credentials(domain=domain), "vfolder", "list"))
