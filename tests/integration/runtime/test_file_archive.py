"""Session file downloads are streamed: a file larger than the kernel's memory limit comes out
whole and the kernel lives on."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents_app.kernel_runner.client import RunnerClient
from agents_app.runtime import KernelSpec, RunnerRequestError
from agents_app.runtime.docker_runtime import DockerRuntime

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
MEMORY_LIMIT = 128 * MiB
FILE_SIZE = 200 * MiB  # larger than the memory limit

WRITE_BIG_FILE = f"""
import hashlib, os
digest = hashlib.sha256()
block = os.urandom(1024 * 1024)
with open("big.bin", "wb") as fh:
    for index in range({FILE_SIZE // MiB}):
        chunk = bytes([index % 256]) + block[1:]
        digest.update(chunk)
        fh.write(chunk)
print(digest.hexdigest())
"""


class TestFileArchive:
    def test_a_file_larger_than_memory_downloads_whole_and_the_kernel_survives(
        self,
        runtime: DockerRuntime,
        make_spec: Callable[..., KernelSpec],
        run: Callable[..., Any],
        tmp_path: Path,
    ) -> None:
        spec = make_spec(memory_bytes=MEMORY_LIMIT)
        info = runtime.create_kernel(spec)
        assert info.runner_port is not None
        tar_path = tmp_path / "download.tar"

        async def scenario() -> tuple[str, int, str]:
            async with RunnerClient("127.0.0.1", info.runner_port or 0, spec.runner_secret) as c:
                written = await c.run_to_end(await c.execute(WRITE_BIG_FILE), timeout=120)
                largest = 0
                with tar_path.open("wb") as out:
                    async for chunk in c.file_archive("big.bin"):
                        largest = max(largest, len(chunk))
                        out.write(chunk)
                after = await c.run_to_end(await c.execute("print('alive')"), timeout=30)
            return written.stdout.strip(), largest, after.stdout

        expected, largest_chunk, after = run(scenario(), timeout=300)
        digest = hashlib.sha256()
        with tarfile.open(tar_path, mode="r|") as tar:
            member = tar.next()
            assert member is not None and member.name == "big.bin"
            assert member.size == FILE_SIZE
            source = tar.extractfile(member)
            assert source is not None
            while block := source.read(MiB):
                digest.update(block)
        state = runtime.get_kernel(spec.kernel_id)

        assert digest.hexdigest() == expected
        assert largest_chunk <= MiB
        assert after == "alive\n"
        assert state.running and not state.oom_killed

    def test_a_missing_path_is_refused_before_any_chunk(
        self,
        runtime: DockerRuntime,
        make_spec: Callable[..., KernelSpec],
        run: Callable[..., Any],
    ) -> None:
        spec = make_spec()
        info = runtime.create_kernel(spec)

        async def scenario() -> list[bytes]:
            async with RunnerClient("127.0.0.1", info.runner_port or 0, spec.runner_secret) as c:
                return [chunk async for chunk in c.file_archive("nope.txt")]

        with pytest.raises(RunnerRequestError) as caught:
            run(scenario())

        assert caught.value.runner_code == "not-found"
