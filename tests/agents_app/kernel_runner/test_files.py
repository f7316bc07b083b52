"""Session files through the runner on the host: archives stream in bounded chunks."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from agents_app.kernel_runner.client import RunnerClient
from agents_app.runtime.errors import RunnerRequestError
from tests.helpers.host_runner import RUNNER_SECRET

SECRET = RUNNER_SECRET
MiB = 1024 * 1024


class TestFileArchive:
    async def test_a_folder_streams_in_chunks_of_at_most_one_mib(
        self, runner_port: int, tmp_path: Path
    ) -> None:
        (tmp_path / "data").mkdir()
        payload = os.urandom(3 * MiB + 17)
        (tmp_path / "data" / "big.bin").write_bytes(payload)
        (tmp_path / "data" / "small.txt").write_text("small")

        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            chunks = [chunk async for chunk in client.file_archive("data")]
            stat = await client.file_stat("data/big.bin")
            still_serving = await client.ping()

        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            big = tar.extractfile("data/big.bin")
            small = tar.extractfile("data/small.txt")
            assert big is not None and small is not None
            assert big.read() == payload
            assert small.read() == b"small"
        assert len(chunks) >= 4
        assert max(len(chunk) for chunk in chunks) <= MiB
        assert stat == {"type": "stat", "id": stat["id"], "is_dir": False, "size": len(payload)}
        assert still_serving >= 0

    async def test_a_missing_file_is_an_error_and_the_connection_lives_on(
        self, runner_port: int
    ) -> None:
        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            with pytest.raises(RunnerRequestError) as archive_error:
                [chunk async for chunk in client.file_archive("missing")]
            with pytest.raises(RunnerRequestError) as stat_error:
                await client.file_stat("missing")
            still_serving = await client.ping()

        assert archive_error.value.runner_code == "not-found"
        assert stat_error.value.runner_code == "not-found"
        assert still_serving >= 0

    async def test_a_consumer_that_stops_early_leaves_the_connection_usable(
        self, runner_port: int, tmp_path: Path
    ) -> None:
        (tmp_path / "big.bin").write_bytes(os.urandom(8 * MiB))

        async with RunnerClient("127.0.0.1", runner_port, SECRET) as client:
            async for _ in client.file_archive("big.bin"):
                break
            answered = await client.ping()

        assert answered >= 0
