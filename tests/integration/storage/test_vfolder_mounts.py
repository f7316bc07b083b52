"""Folders mounted into real kernels (`run -v`), read-only mounts, and clone through Celery."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from storage_app.enums import VFolderStatus
from storage_app.models import VFolder, VFolderInvitation
from storage_app.services.sharing import invitation_accept
from storage_app.services.volumes import vfolder_root
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]

READ_AND_WRITE = (
    "print(open('/home/work/vf1/in.txt').read()); "
    "open('/home/work/vf1/out.txt', 'w').write('from the kernel')"
)
WRITE_ONLY = "open('/home/work/vf1/denied.txt', 'w').write('x')"


def ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{output}\n{stack.logs()}"
    return output


class TestMountedFolders:
    def test_run_reads_and_writes_a_mounted_folder(
        self, platform_stack: Stack, folder_owner: Credentials, folder_guest: Credentials,
        cli: Cli, tmp_path: Path,
    ) -> None:  # fmt: skip
        stack = platform_stack
        ok(cli(stack, folder_owner, "vfolder", "create", "vf1"), stack)
        (tmp_path / "in.txt").write_text("from the owner")
        ok(cli(stack, folder_owner, "vfolder", "upload", "vf1", "in.txt"), stack)

        run = cli(stack, folder_owner, "run", "--rm", "-v", "vf1", "-c", READ_AND_WRITE, "python")
        assert "from the owner" in ok(run, stack)
        ok(cli(stack, folder_owner, "vfolder", "download", "vf1", "out.txt"), stack)
        assert (tmp_path / "out.txt").read_text() == "from the kernel"

        # a read-only invitee can read but not write through the mount
        ok(
            cli(
                stack, folder_owner, "vfolder", "invite", "vf1", folder_guest.user.email, "-p", "ro"
            ),
            stack,
        )
        invitation = VFolderInvitation.objects.get(invitee=folder_guest.user)
        invitation_accept(user=folder_guest.user, inv_id=str(invitation.pk))
        denied = cli(stack, folder_guest, "run", "--rm", "-v", "vf1", "-c", WRITE_ONLY, "python")
        assert "Read-only file system" in denied.stdout + denied.stderr, stack.logs()
        folder = VFolder.objects.get(name="vf1")
        assert not (vfolder_root(folder) / "denied.txt").exists()

    def test_clone_reports_progress_and_copies(
        self, platform_stack: Stack, folder_owner: Credentials, cli: Cli, tmp_path: Path
    ) -> None:
        stack = platform_stack
        ok(cli(stack, folder_owner, "vfolder", "create", "src1"), stack)
        (tmp_path / "f.bin").write_bytes(b"z" * 100_000)
        ok(cli(stack, folder_owner, "vfolder", "upload", "src1", "f.bin"), stack)
        ok(
            cli(
                stack, folder_owner, "vfolder", "update-options", "src1", "--set-cloneable", "true"
            ),
            stack,
        )
        cloned = ok(
            cli(stack, folder_owner, "vfolder", "clone", "src1", "dst1", "local:volume1"), stack
        )
        assert "Cloning the vfolder is complete" in cloned
        target = VFolder.objects.get(name="dst1")
        assert target.status == VFolderStatus.READY
        assert (vfolder_root(target) / "f.bin").read_bytes() == b"z" * 100_000
