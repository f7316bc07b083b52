"""Fixtures for the agents integration tests: the real Docker engine and a loopback registry.

A missing Docker engine (or registry binary) skips these tests, except under CI=true where it
fails them: CI must run them.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """The Docker engine answers `docker info`."""
    if shutil.which("docker") is None:
        _unavailable("the docker CLI is not installed")
    result = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    if result.returncode != 0:
        _unavailable("the Docker engine is not running (scripts/ensure_docker.sh starts it)")


@dataclass(frozen=True)
class LoopbackRegistry:
    host: str  # "127.0.0.1:<port>", the registry part of image refs

    @property
    def url(self) -> str:
        return f"http://{self.host}"


@pytest.fixture
def loopback_registry(docker_engine: None, tmp_path: Path) -> Iterator[LoopbackRegistry]:
    """Debian's `docker-registry` on a free 127.0.0.1 port with a temporary storage folder."""
    binary = shutil.which("docker-registry")
    if binary is None:
        _unavailable("docker-registry is not installed (apt-get install docker-registry)")
        raise AssertionError("unreachable")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {tmp_path / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (tmp_path / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the loopback registry did not start") from None
                time.sleep(0.2)
        yield LoopbackRegistry(host=f"127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def docker(*args: str, timeout: float = 300) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def import_labelled_image(ref: str, labels: dict[str, str]) -> None:
    """A one-file image with the given labels, made with `docker import` (no network)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"backendai-django test image\n"
        info = tarfile.TarInfo("README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    changes: list[str] = []
    for key, value in labels.items():
        changes += ["--change", f"LABEL {key}={value}"]
    result = subprocess.run(
        ["docker", "import", *changes, "-", ref],
        input=buffer.getvalue(),
        capture_output=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"docker import: {result.stderr.decode().strip()}")
