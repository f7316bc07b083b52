"""A live stack (web, manager worker, agent on Docker) with a storage volume under tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from backendai_site.config import get_config
from storage_app.models import StorageVolume
from tests.conftest import Credentials
from tests.integration.sessions.conftest import (  # noqa: F401 - fixtures reused
    Stack,
    cli,
    platform_stack,
    stack_redis_url,
)
from tests.sessions_app.conftest import make_member


@pytest.fixture
def stack_volume(platform_stack: Stack, tmp_path: Path) -> StorageVolume:  # noqa: F811
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
