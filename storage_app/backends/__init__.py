"""Storage backends: how a volume lays out, creates, measures and bounds folders.

`backend_for(volume)` picks the implementation named by `StorageVolume.backend`. Only `vfs` (any
POSIX path) exists; a quota-enforcing filesystem (XFS project quotas, CephFS) subclasses it and
overrides `quota_set`, since the layout puts each quota scope in a directory of its own.
"""

from __future__ import annotations

from .base import FolderUsage, StorageBackend, folder_relpath
from .vfs import VfsBackend

_BACKENDS: dict[str, type[VfsBackend]] = {"vfs": VfsBackend}


def backend_for(*, name: str, mount_path: str) -> StorageBackend:
    try:
        cls = _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown storage backend {name!r}") from None
    return cls(mount_path=mount_path)


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


__all__ = ["FolderUsage", "StorageBackend", "backend_for", "backend_names", "folder_relpath"]
