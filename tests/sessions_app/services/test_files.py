"""Session files against the real runner on the host: the upload limit, streamed downloads."""

from __future__ import annotations

import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backendai_site.config import get_config
from sessions_app.errors import RunnerRejected, UploadTooLarge
from sessions_app.services.execute import KernelEndpoint
from sessions_app.services.files import (
    ArchiveDownload,
    UploadItem,
    session_files_check,
    session_files_upload,
)
from tests.helpers.host_runner import host_runner_endpoint

MiB = 1024 * 1024


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def endpoint(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KernelEndpoint]:
    workdir.mkdir()
    # the access marks go to Redis in the background; nothing here needs them
    monkeypatch.setattr("sessions_app.services.files.session_access_touch", _no_touch)
    with host_runner_endpoint(workdir) as endpoint:
        yield endpoint


async def _no_touch(session_id: uuid.UUID) -> None:
    return None


def _item(path: str, data: bytes, *, known_size: bool = True) -> UploadItem:
    stream = io.BytesIO(data)
    return UploadItem(path=path, read=stream.read, size=len(data) if known_size else None)


class TestUploadLimit:
    async def test_an_upload_within_the_limit_is_written(
        self, endpoint: KernelEndpoint, workdir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_config().sessions, "upload_max_bytes", 2 * MiB)

        written = await session_files_upload(
            endpoint=endpoint, items=[_item("a/one.bin", b"x" * MiB), _item("two", b"y" * 10)]
        )

        assert written == MiB + 10
        assert (workdir / "a" / "one.bin").stat().st_size == MiB

    async def test_files_over_the_limit_are_refused_before_anything_is_written(
        self, endpoint: KernelEndpoint, workdir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_config().sessions, "upload_max_bytes", MiB)
        items = [_item("one", b"x" * MiB), _item("two", b"y")]

        with pytest.raises(UploadTooLarge) as caught:
            await session_files_upload(endpoint=endpoint, items=items)

        assert caught.value.data == {"limit": MiB}
        assert list(workdir.iterdir()) == []

    async def test_a_stream_of_unknown_size_stops_at_the_limit(
        self, endpoint: KernelEndpoint, workdir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_config().sessions, "upload_max_bytes", 6 * MiB)
        item = _item("big", os.urandom(10 * MiB), known_size=False)

        with pytest.raises(UploadTooLarge):
            await session_files_upload(endpoint=endpoint, items=[item])

        assert (workdir / "big").stat().st_size <= 6 * MiB


class TestDownload:
    async def test_a_missing_path_is_refused_before_the_response(
        self, endpoint: KernelEndpoint
    ) -> None:
        with pytest.raises(RunnerRejected):
            await session_files_check(endpoint=endpoint, paths=["missing.txt"])

    async def test_the_body_streams_one_tar_part_per_path(
        self, endpoint: KernelEndpoint, workdir: Path
    ) -> None:
        payload = os.urandom(3 * MiB)
        (workdir / "data.bin").write_bytes(payload)
        relatives = await session_files_check(endpoint=endpoint, paths=["data.bin"])
        download = ArchiveDownload(endpoint=endpoint, names=["data.bin"], relatives=relatives)

        parts = [part async for part in download.body()]

        body = b"".join(parts)
        boundary = download.boundary.encode()
        head, rest = body.split(b"\r\n\r\n", 1)
        tar_bytes = rest[: rest.rindex(b"\r\n--" + boundary + b"--")]
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
            member = tar.extractfile("data.bin")
            assert member is not None and member.read() == payload
        assert b'filename="data.bin.tar"' in head
        assert len(parts) > 3  # streamed, not one buffer
        assert download.content_type == f"multipart/mixed; boundary={download.boundary}"
