"""A live stack (web, manager worker, agent on Docker) with a storage volume under tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from backendai_site.config import get_config
from storage_app.models import StorageVolume
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack


@pytest.fixture
def stack_volume(platform_stack: Stack, tmp_path: Path) -> StorageVolume:
    mount = tmp_path / "volume1"
    mount.mkdir()
    volume, _ = StorageVolume.objects.update_or_create(
        name=get_config().storage.default_host,
        defaults={"backend": "vfs", "mount_path": str(mount), "capabilities": ["vfolder"]},
    )
    return volume


@pytest.fixture
def folder_owner(stack_volume: StorageVolume) -> Credentials:
    return make_member(default_tenancy_ensure().project, "vf-owner@example.com")


@pytest.fixture
def folder_guest(stack_volume: StorageVolume) -> Credentials:
    return make_member(default_tenancy_ensure().project, "vf-guest@example.com")
