"""The storage tasks and commands: clone with progress events, usage refresh, bootstrap."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from backendai_site.common.bgtask import bgtask_owner, bgtask_replay_key
from backendai_site.common.redis import get_redis
from backendai_site.config import get_config
from storage_app.enums import VFolderStatus
from storage_app.models import StorageVolume, VFolder
from storage_app.selectors import vfolder_resolve
from storage_app.services.clone import vfolder_clone_run, vfolder_clone_start
from storage_app.services.transfer import uploads_sweep
from storage_app.services.volumes import vfolder_root
from storage_app.tasks import vfolders_usage_refresh
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db


class TestClone:
    def test_copies_files_and_publishes_progress(self, alice: Api, alice_folder: str) -> None:
        source = VFolder.objects.get(pk=alice_folder)
        (vfolder_root(source) / "d").mkdir()
        (vfolder_root(source) / "d" / "f").write_bytes(b"q" * 5000)
        access = vfolder_resolve(user=alice.creds.user, ref=alice_folder)
        task_id, target = vfolder_clone_start(
            user=alice.creds.user, access=access, target_name="copy1", target_host=None,
            usage_mode="general", permission="rw",
        )  # fmt: skip
        assert target.status == VFolderStatus.CLONING
        assert bgtask_owner(task_id) == str(alice.creds.user.pk)
        vfolder_clone_run(task_id=str(task_id), source_id=str(source.pk), target_id=str(target.pk))
        target.refresh_from_db()
        assert target.status == VFolderStatus.READY
        assert (vfolder_root(target) / "d" / "f").read_bytes() == b"q" * 5000
        assert target.cur_size == 5000
        events = [
            json.loads(e)["event"] for e in get_redis().lrange(bgtask_replay_key(task_id), 0, -1)
        ]
        assert events[0] == "bgtask_updated" and events[-1] == "bgtask_done"

    def test_not_cloneable_for_others(self, alice: Api, bob: Api, alice_folder: str) -> None:
        r = alice.call(
            "POST",
            f"/folders/{alice_folder}/invite",
            {"perm": "ro", "user_ids": ["bob@example.com"]},
        )
        inv = bob.call("GET", "/folders/invitations/list").json()["invitations"][0]
        bob.call("POST", "/folders/invitations/accept", {"inv_id": inv["id"]})
        assert r.status_code == 201
        response = bob.call("POST", f"/folders/{alice_folder}/clone", {"target_name": "mine"})
        assert response.status_code == 403


class TestUsageRefresh:
    def test_periodic_refresh_measures_disk(self, alice: Api, alice_folder: str) -> None:
        (vfolder_root(VFolder.objects.get(pk=alice_folder)) / "f").write_bytes(b"x" * 321)
        assert vfolders_usage_refresh() >= 1
        folder = VFolder.objects.get(pk=alice_folder)
        assert (folder.num_files, folder.cur_size) == (1, 321)


class TestBootstrap:
    def test_creates_the_default_volume(
        self, db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_config().storage, "default_volume_path", tmp_path / "vol")
        call_command("storage_bootstrap")
        volume = StorageVolume.objects.get(name="local:volume1")
        assert Path(volume.mount_path) == tmp_path / "vol"
        assert (tmp_path / "vol").is_dir()


class TestUploadsSweep:
    def test_stale_partial_uploads_are_removed(self, volume: StorageVolume) -> None:
        staging = Path(volume.mount_path) / ".uploads"
        staging.mkdir()
        stale, fresh = staging / "old.part", staging / "new.part"
        stale.write_bytes(b"x")
        fresh.write_bytes(b"y")
        os.utime(stale, (0, 0))
        assert uploads_sweep(older_than=3600) == 1
        assert not stale.exists() and fresh.exists()
