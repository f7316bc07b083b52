"""The protocol every storage backend implements, and the on-disk layout they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True, slots=True)
class FolderUsage:
    file_count: int
    used_bytes: int


def folder_relpath(*, quota_scope_id: str, vfolder_id: UUID) -> PurePosixPath:
    """`<quota scope>/<id[0:2]>/<id[2:4]>/<id[4:]>` (the quota scope's `:` kept as `_`)."""
    hexid = vfolder_id.hex
    scope = quota_scope_id.replace(":", "_")
    return PurePosixPath(scope, hexid[0:2], hexid[2:4], hexid[4:])


class StorageBackend(Protocol):
    mount_path: Path

    def capabilities(self) -> list[str]: ...

    def folder_path(self, *, quota_scope_id: str, vfolder_id: UUID) -> Path: ...

    def folder_create(
        self, *, quota_scope_id: str, vfolder_id: UUID, uid: int, gid: int
    ) -> Path: ...

    def folder_delete(self, *, quota_scope_id: str, vfolder_id: UUID) -> None: ...

    def folder_move(self, *, src_scope_id: str, dst_scope_id: str, vfolder_id: UUID) -> Path: ...

    def folder_usage(self, *, quota_scope_id: str, vfolder_id: UUID) -> FolderUsage: ...

    def folder_clone(
        self,
        *,
        src_scope_id: str,
        src_id: UUID,
        dst_scope_id: str,
        dst_id: UUID,
        progress: ProgressCallback,
    ) -> None: ...

    def quota_set(self, *, quota_scope_id: str, limit_bytes: int | None) -> None: ...

    def staging_dir(self) -> Path: ...

    def volume_usage(self) -> tuple[int, int]: ...


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int) -> None: ...
