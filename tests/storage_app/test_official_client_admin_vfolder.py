"""`backend.ai admin vfolder ...` folder administration of the official client (26.9.6) against
the live server: shares listed, changed and removed, a folder given to another owner, the
volumes' mounts, the fstab note and the perf-metric refusal; plain users refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain
from storage_app.models import StorageVolume, VFolder, VFolderPermission
from storage_app.selectors import vfolder_resolve
from storage_app.services import folders, sharing
from storage_app.services.volumes import vfolder_root
from tests.helpers.cli import cli_ok, cli_refused
from tests.helpers.credentials import Credentials, make_credentials

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

HOST = "local:volume1"


@pytest.fixture
def owner(volume: StorageVolume, domain: Domain) -> Credentials:
    return make_credentials(email="vf-owner@example.com", username="vfowner", domain=domain)


@pytest.fixture
def invitee(volume: StorageVolume, domain: Domain) -> Credentials:
    return make_credentials(email="vf-invitee@example.com", username="vfinvitee", domain=domain)


@pytest.fixture
def superadmin(volume: StorageVolume, domain: Domain) -> Credentials:
    return make_credentials(
        email="vf-root@example.com", username="vfroot", domain=domain, role=UserRole.SUPERADMIN
    )


@pytest.fixture
def shared_folder(owner: Credentials, invitee: Credentials) -> VFolder:
    vfolder = folders.vfolder_create(user=owner.user, request=folders.VFolderCreate(name="data1"))
    vfolder_root(vfolder).joinpath("notes.txt").write_text("kept")
    access = vfolder_resolve(user=owner.user, ref="data1")
    emails = [invitee.user.email]
    sharing.vfolder_invite(inviter=owner.user, access=access, permission="ro", emails=emails)
    (pending,) = sharing.invitations_pending(user=invitee.user)
    sharing.invitation_accept(user=invitee.user, inv_id=pending["id"])
    return vfolder


def test_a_superadmin_lists_changes_and_removes_a_share(
    run_cli: Callable[..., Any],
    superadmin: Credentials,
    invitee: Credentials,
    shared_folder: VFolder,
) -> None:
    vfid, uid = str(shared_folder.pk), str(invitee.user.pk)

    listed = cli_ok(run_cli(superadmin, "admin", "vfolder", "list-shared-vfolders"))
    cli_ok(
        run_cli(
            superadmin, "admin", "vfolder", "update-shared-vf-permission", vfid, uid, "-p", "rw"
        )
    )
    info = cli_ok(run_cli(superadmin, "admin", "vfolder", "shared-vfolder-info", vfid))
    cli_ok(run_cli(superadmin, "admin", "vfolder", "remove-shared-vf-permission", vfid, uid))

    assert f'Virtual folder "data1" (ID: {vfid})' in listed
    assert "- Permission: ro" in listed
    assert "- email: vf-invitee@example.com" in listed
    assert "- Permission: rw" in info
    assert not VFolderPermission.objects.exists()


def test_a_superadmin_gives_a_folder_to_another_user(
    run_cli: Callable[..., Any],
    superadmin: Credentials,
    invitee: Credentials,
    shared_folder: VFolder,
) -> None:
    vfid, email = str(shared_folder.pk), invitee.user.email

    out = cli_ok(run_cli(superadmin, "admin", "vfolder", "change-vfolder-ownership", vfid, email))
    listed = cli_ok(run_cli(invitee, "vfolder", "ls", "data1"))

    assert f"Now ownership of VFolder:{vfid} goes to User:vf-invitee@example.com" in out
    assert VFolder.objects.get(pk=vfid).user_id == invitee.user.pk
    assert "notes.txt" in listed


def test_a_superadmin_reads_the_mounts_the_fstab_note_and_no_perf_metric(
    run_cli: Callable[..., Any], superadmin: Credentials, volume: StorageVolume
) -> None:
    mounts = cli_ok(run_cli(superadmin, "admin", "vfolder", "list-mounts"))
    fstab = cli_ok(run_cli(superadmin, "admin", "vfolder", "get-fstab-contents"))
    agent_fstab = cli_refused(
        run_cli(superadmin, "admin", "vfolder", "get-fstab-contents", "-a", "i-agent")
    )
    perf = cli_refused(run_cli(superadmin, "admin", "vfolder", "perf-metric", HOST))

    assert "manager" in mounts and volume.mount_path in mounts
    assert "'reachable': True" in mounts
    assert "'node': 'manager'" in fstab
    assert "run no watcher" in agent_fstab
    assert "measures no performance metrics" in perf


def test_plain_users_are_refused(
    run_cli: Callable[..., Any], owner: Credentials, invitee: Credentials, shared_folder: VFolder
) -> None:
    vfid, uid = str(shared_folder.pk), str(invitee.user.pk)

    listing = cli_refused(run_cli(owner, "admin", "vfolder", "list-shared-vfolders"))
    changing = cli_refused(
        run_cli(owner, "admin", "vfolder", "update-shared-vf-permission", vfid, uid, "-p", "wd")
    )
    giving = cli_refused(
        run_cli(owner, "admin", "vfolder", "change-vfolder-ownership", vfid, "vf-root@example.com")
    )
    mounts = cli_refused(run_cli(owner, "admin", "vfolder", "list-mounts"))

    assert "Only superadmins and domain admins" in listing and "403" in changing
    assert "may not change a folder's owner" in giving and "403" in mounts
    assert VFolderPermission.objects.get().permission == "ro"
    assert VFolder.objects.get(pk=vfid).user_id == owner.user.pk
