"""Hostile paths thrown at every file operation never change anything outside the folder root."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backendai_site.common.errors import BackendError
from storage_app.errors import VFolderUnsafePath
from storage_app.models import VFolder
from storage_app.paths import clean_relpath, open_dir, open_parent
from storage_app.selectors import vfolder_resolve
from storage_app.services import files, transfer
from storage_app.services.volumes import vfolder_root
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db

SEGMENTS = st.sampled_from(
    ["..", ".", "", "a", "b", "escape", "escape-dir", "x" * 300, "\x00", "a\x00b", "~", "/", "\\"]
)
HOSTILE = st.builds(
    lambda parts, lead: ("/" if lead else "") + "/".join(parts),
    st.lists(SEGMENTS, min_size=1, max_size=5),
    st.booleans(),
)


def _snapshot(path: Path) -> dict[str, tuple[int, bytes | str]]:
    out: dict[str, tuple[int, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            st_ = full.lstat()
            content: bytes | str = b""
            if full.is_symlink():
                content = os.readlink(full)
            elif full.is_file():
                content = full.read_bytes()
            out[str(full.relative_to(path))] = (st_.st_mode, content)
    return out


class TestCleanRelpath:
    @pytest.mark.parametrize("raw", ["/etc/passwd", "../x", "a/../../x", "a\x00", "x" * 256])
    def test_refused(self, raw: str) -> None:
        with pytest.raises(BackendError):
            clean_relpath(raw)

    def test_symlink_out_is_refused(self, tmp_path: Path) -> None:
        root = tmp_path / "root"
        root.mkdir()
        (root / "out").symlink_to(tmp_path)
        with pytest.raises(VFolderUnsafePath), open_parent(root.resolve(), "out/secret"):
            pass

    def test_symlink_inside_is_not_traversed_either(self, tmp_path: Path) -> None:
        root = tmp_path / "root"
        (root / "real").mkdir(parents=True)
        (root / "alias").symlink_to(root / "real")
        with pytest.raises(VFolderUnsafePath), open_dir(root, clean_relpath("alias")):
            pass


class TestDirectorySwappedForSymlink:
    """A session replaces a checked directory with a link to the outside between the check and
    the write (a TOCTOU race): the descriptor walk must still never write outside."""

    def test_swap_after_walk_keeps_writes_inside(self, tmp_path: Path) -> None:
        root, outside = tmp_path / "root", tmp_path / "outside"
        (root / "sub").mkdir(parents=True)
        outside.mkdir()
        with open_parent(root, "sub/file") as (fd, name):
            # the swap happens after the walk opened `sub`
            (root / "sub").rename(root / "sub-old")
            (root / "sub").symlink_to(outside)
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
        assert list(outside.iterdir()) == []
        assert (root / "sub-old" / "file").exists()

    def test_swap_before_walk_is_refused(self, tmp_path: Path) -> None:
        root, outside = tmp_path / "root", tmp_path / "outside"
        root.mkdir()
        outside.mkdir()
        (root / "sub").symlink_to(outside)
        with pytest.raises(VFolderUnsafePath), open_parent(root, "sub/file"):
            pass
        assert list(outside.iterdir()) == []

    def test_upload_into_swapped_directory_stays_inside(
        self, alice: Api, alice_folder: str
    ) -> None:
        vfolder = VFolder.objects.get(pk=alice_folder)
        root = vfolder_root(vfolder)
        outside = root.parent / "outside-upload"
        outside.mkdir(exist_ok=True)
        access = vfolder_resolve(user=alice.creds.user, ref=alice_folder)
        files.files_mkdir(access=access, paths=["data"], parents=False, exist_ok=False)
        token = transfer.upload_request(access=access, path="data/x.bin", size=3)
        (root / "data").rmdir()
        (root / "data").symlink_to(outside)  # swapped after request-upload checked it
        part = root.parent / "x.part"
        part.write_bytes(b"abc")
        with pytest.raises(VFolderUnsafePath):
            transfer.upload_finish(vfolder=vfolder, part=part, token=token, dst_dir=None)
        assert list(outside.iterdir()) == []


class TestHostilePaths:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(path=HOSTILE, other=HOSTILE)
    def test_no_operation_touches_the_outside(
        self, alice: Api, alice_folder: str, path: str, other: str
    ) -> None:
        vfolder = VFolder.objects.get(pk=alice_folder)
        root = vfolder_root(vfolder)
        outside = root.parent / "outside"
        outside.mkdir(exist_ok=True)
        (outside / "secret").write_text("keep")
        for link, target in (("escape", outside / "secret"), ("escape-dir", outside)):
            if not (root / link).is_symlink():
                (root / link).symlink_to(target)
        before = _snapshot(outside)
        access = vfolder_resolve(user=alice.creds.user, ref=alice_folder)
        operations: list[Callable[[], object]] = [
            lambda: files.files_list(access=access, path=path),
            lambda: files.files_mkdir(access=access, paths=[path], parents=True, exist_ok=True),
            lambda: files.files_rename(access=access, target_path=path, new_name=other),
            lambda: files.files_move(access=access, src=path, dst=other),
            lambda: transfer.upload_request(access=access, path=path, size=0),
            lambda: transfer.download_request(access=access, path=path),
            lambda: files.files_delete(access=access, files=[path], recursive=True),
        ]
        for operation in operations:
            with contextlib.suppress(BackendError, OSError):
                operation()
        assert _snapshot(outside) == before
        assert (outside / "secret").read_text() == "keep"
