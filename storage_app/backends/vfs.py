"""`vfs`: folders as plain directories on any POSIX filesystem; quotas are kept by the manager."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from uuid import UUID

from .base import FolderUsage, ProgressCallback, folder_relpath

STAGING_DIR = ".uploads"
COPY_CHUNK = 4 * 1024 * 1024


def _chown(path: Path, uid: int, gid: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, uid, gid, follow_symlinks=False)


class VfsBackend:
    name = "vfs"

    def __init__(self, *, mount_path: str) -> None:
        self.mount_path = Path(mount_path).resolve()

    def capabilities(self) -> list[str]:
        return ["vfolder"]

    def folder_path(self, *, quota_scope_id: str, vfolder_id: UUID) -> Path:
        return self.mount_path / folder_relpath(
            quota_scope_id=quota_scope_id, vfolder_id=vfolder_id
        )

    def folder_create(self, *, quota_scope_id: str, vfolder_id: UUID, uid: int, gid: int) -> Path:
        path = self.folder_path(quota_scope_id=quota_scope_id, vfolder_id=vfolder_id)
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)
        _chown(path, uid, gid)
        return path

    def folder_delete(self, *, quota_scope_id: str, vfolder_id: UUID) -> None:
        path = self.folder_path(quota_scope_id=quota_scope_id, vfolder_id=vfolder_id)
        if path.exists():
            shutil.rmtree(path)
        for parent in (path.parent, path.parent.parent):
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break

    def folder_move(self, *, src_scope_id: str, dst_scope_id: str, vfolder_id: UUID) -> Path:
        """Move a folder's directory into another quota scope of the same volume (one rename on
        one filesystem: nothing is copied). A folder with no directory yet gets an empty one."""
        src = self.folder_path(quota_scope_id=src_scope_id, vfolder_id=vfolder_id)
        dst = self.folder_path(quota_scope_id=dst_scope_id, vfolder_id=vfolder_id)
        if src == dst:
            return dst
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.exists():
            os.rename(src, dst)  # refuses (OSError) when dst exists and is not empty
            for parent in (src.parent, src.parent.parent):
                try:
                    parent.rmdir()  # only when empty
                except OSError:
                    break
        else:
            dst.mkdir(exist_ok=True)
        return dst

    def folder_usage(self, *, quota_scope_id: str, vfolder_id: UUID) -> FolderUsage:
        root = self.folder_path(quota_scope_id=quota_scope_id, vfolder_id=vfolder_id)
        count = used = 0
        for dirpath, dirnames, filenames in os.walk(root):
            for name in filenames:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                count += 1
                used += st.st_size
            count += len(dirnames)
        return FolderUsage(file_count=count, used_bytes=used)

    def folder_clone(
        self,
        *,
        src_scope_id: str,
        src_id: UUID,
        dst_scope_id: str,
        dst_id: UUID,
        progress: ProgressCallback,
    ) -> None:
        src = self.folder_path(quota_scope_id=src_scope_id, vfolder_id=src_id)
        dst = self.folder_path(quota_scope_id=dst_scope_id, vfolder_id=dst_id)
        total = self.folder_usage(quota_scope_id=src_scope_id, vfolder_id=src_id).used_bytes
        done = 0
        progress(done, total)
        for dirpath, dirnames, filenames in os.walk(src):
            rel = Path(dirpath).relative_to(src)
            target_dir = dst / rel
            target_dir.mkdir(parents=True, exist_ok=True)
            shutil.copystat(dirpath, target_dir, follow_symlinks=False)
            for name in filenames:
                s, d = Path(dirpath) / name, target_dir / name
                if s.is_symlink():
                    os.symlink(os.readlink(s), d)
                    continue
                with s.open("rb") as fin, d.open("wb") as fout:
                    while chunk := fin.read(COPY_CHUNK):
                        fout.write(chunk)
                        done += len(chunk)
                        progress(done, total)
                shutil.copystat(s, d)
            # symlinked directories are copied as links, never followed
            for name in list(dirnames):
                s = Path(dirpath) / name
                if s.is_symlink():
                    os.symlink(os.readlink(s), target_dir / name)
                    dirnames.remove(name)
        progress(total, total)

    def quota_set(self, *, quota_scope_id: str, limit_bytes: int | None) -> None:
        # plain POSIX has no quota of its own: the manager refuses uploads that would pass it
        return None

    def staging_dir(self) -> Path:
        path = self.mount_path / STAGING_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    def volume_usage(self) -> tuple[int, int]:
        """(capacity, used) bytes of the filesystem under the mount path."""
        st = os.statvfs(self.mount_path)
        capacity = st.f_blocks * st.f_frsize
        return capacity, capacity - st.f_bfree * st.f_frsize
