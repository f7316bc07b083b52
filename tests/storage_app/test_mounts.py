"""Session creation resolves folder mounts with permission checks; live mounts block a purge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backendai_site.common.errors import BackendError
from sessions_app.models import Session
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from sessions_app.services.lifecycle import _create_command
from storage_app.enums import VFolderUsageMode
from storage_app.errors import VFolderInUse, VFolderNotFound, VFolderPermissionDenied
from storage_app.models import StorageVolume, VFolder
from storage_app.selectors import vfolder_resolve
from storage_app.services.folders import VFolderCreate, vfolder_create, vfolder_purge, vfolder_trash
from storage_app.services.sharing import invitation_accept, vfolder_invite
from storage_app.services.volumes import vfolder_root
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials

pytestmark = pytest.mark.django_db


def enqueue(creds: Credentials, name: str, **config: Any) -> Session:
    request = SessionCreateRequest.model_validate(
        {"image": "python", "name": name, "enqueueOnly": True, "config": config}
    )
    return session_enqueue(requester=creds.keypair, request=request).session


@pytest.fixture
def folder(world: ComputeWorld, volume: StorageVolume) -> VFolder:
    vfolder = vfolder_create(user=world.user.user, request=VFolderCreate(name="work1"))
    (vfolder_root(vfolder) / "sub").mkdir()
    return vfolder


class TestSessionMounts:
    def test_default_target_and_kernel_command(self, world: ComputeWorld, folder: VFolder) -> None:
        session = enqueue(world.user, "sess-m1", mounts=["work1"])
        [mount] = session.mounts
        assert mount["container_path"] == "/home/work/work1"
        assert Path(mount["host_path"]) == vfolder_root(folder).resolve()
        assert mount["read_only"] is False
        kernel = session.kernels.get()
        command = _create_command(session, kernel)
        assert command.mounts == [
            {
                "host_path": mount["host_path"],
                "container_path": "/home/work/work1",
                "read_only": False,
            }
        ]

    def test_mapped_path_subpath_and_read_only_option(
        self, world: ComputeWorld, folder: VFolder
    ) -> None:
        session = enqueue(
            world.user, "sess-m2", mounts=["work1/sub"], mount_map={"work1/sub": "/data"},
            mount_options={"work1/sub": {"type": "bind", "permission": "ro"}},
        )  # fmt: skip
        [mount] = session.mounts
        assert mount["container_path"] == "/data"
        assert mount["host_path"].endswith("/sub")
        assert mount["read_only"] is True

    def test_mount_ids_with_a_relative_target(self, world: ComputeWorld, folder: VFolder) -> None:
        session = enqueue(
            world.user,
            "sess-m3",
            mount_ids=[str(folder.pk)],
            mount_id_map={str(folder.pk): "in/here"},
        )
        assert session.mounts[0]["container_path"] == "/home/work/in/here"

    @pytest.mark.parametrize("target", ["/etc", "/", "/home/work", "../x"])
    def test_system_targets_are_refused(
        self, world: ComputeWorld, folder: VFolder, target: str
    ) -> None:
        with pytest.raises(BackendError):
            enqueue(world.user, "sess-m4", mounts=["work1"], mount_map={"work1": target})
        assert not Session.objects.filter(name="sess-m4").exists()

    def test_someone_elses_folder_is_not_found(self, world: ComputeWorld, folder: VFolder) -> None:
        other = make_member(world.project, "other@example.com")
        with pytest.raises(VFolderNotFound):
            enqueue(other, "sess-m5", mounts=["work1"])

    def test_invited_read_only_cannot_mount_read_write(
        self, world: ComputeWorld, folder: VFolder
    ) -> None:
        other = make_member(world.project, "guest@example.com")
        access = vfolder_resolve(user=world.user.user, ref="work1")
        vfolder_invite(
            inviter=world.user.user, access=access, permission="ro", emails=[other.user.email]
        )
        invitation_accept(user=other.user, inv_id=str(folder.invitations.get().pk))
        with pytest.raises(VFolderPermissionDenied):
            enqueue(
                other, "sess-m6", mounts=["work1"], mount_options={"work1": {"permission": "rw"}}
            )
        session = enqueue(other, "sess-m7", mounts=["work1"])
        assert session.mounts[0]["read_only"] is True

    def test_model_folders_are_read_only_unless_owned(
        self, world: ComputeWorld, volume: StorageVolume
    ) -> None:
        model = vfolder_create(
            user=world.user.user,
            request=VFolderCreate(name="llm", usage_mode=VFolderUsageMode.MODEL),
        )
        other = make_member(world.project, "reader@example.com")
        access = vfolder_resolve(user=world.user.user, ref="llm")
        vfolder_invite(
            inviter=world.user.user, access=access, permission="rw", emails=[other.user.email]
        )
        invitation_accept(user=other.user, inv_id=str(model.invitations.get().pk))
        assert enqueue(other, "sess-m8", mounts=["llm"]).mounts[0]["read_only"] is True
        assert enqueue(world.user, "sess-m9", mounts=["llm"]).mounts[0]["read_only"] is False


class TestPurgeWhileMounted:
    def test_a_live_mount_blocks_the_purge(self, world: ComputeWorld, folder: VFolder) -> None:
        session = enqueue(world.user, "sess-p1", mounts=["work1"])
        user = world.user.user
        vfolder_trash(user=user, access=vfolder_resolve(user=user, ref="work1"))
        trashed = vfolder_resolve(
            user=user, ref=folder.pk.hex, statuses=frozenset({"delete-pending"})
        )
        with pytest.raises(VFolderInUse):
            vfolder_purge(user=user, access=trashed)
        Session.objects.filter(pk=session.pk).update(status="TERMINATED")
        vfolder_purge(user=user, access=trashed)
        assert not vfolder_root(folder).exists()


class TestStrayMountInput:
    def test_options_for_an_unmounted_folder_are_refused(
        self, world: ComputeWorld, folder: VFolder
    ) -> None:
        with pytest.raises(BackendError):
            enqueue(
                world.user,
                "sess-x1",
                mounts=["work1"],
                mount_options={"other": {"permission": "ro"}},
            )
