"""Storage volumes: the default one for the quick start, and the backend of each."""

from __future__ import annotations

import logging
from pathlib import Path

from backendai_site.config import get_config
from storage_app.backends import StorageBackend, backend_for
from storage_app.models import StorageVolume, VFolder

log = logging.getLogger(__name__)


def default_volume_ensure() -> StorageVolume:
    """The configured default volume, created (row and directory) when it does not exist yet."""
    config = get_config()
    host = config.storage.default_host
    path = Path(config.resolved_default_volume_path())
    volume, created = StorageVolume.objects.get_or_create(
        name=host,
        defaults={"backend": "vfs", "mount_path": str(path), "capabilities": ["vfolder"]},
    )
    if created:
        log.info("default storage volume created", extra={"host": host, "path": str(path)})
    Path(volume.mount_path).mkdir(parents=True, exist_ok=True)
    return volume


def volume_backend(volume: StorageVolume) -> StorageBackend:
    return backend_for(name=volume.backend, mount_path=volume.mount_path)


def vfolder_root(vfolder: VFolder) -> Path:
    """The folder's directory on its volume (resolved)."""
    backend = volume_backend(vfolder.volume)
    return backend.folder_path(quota_scope_id=vfolder.quota_scope_id, vfolder_id=vfolder.pk)
