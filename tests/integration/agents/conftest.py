"""Fixtures for the agents integration tests: the real Docker engine and a loopback registry.

A missing Docker engine (or registry binary) skips these tests, except under CI=true where it
fails them: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.net import free_port
from tests.helpers.registry import LoopbackRegistry


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """The Docker engine answers `docker info`."""
    if shutil.which("docker") is None:
        _unavailable("the docker CLI is not installed")
    result = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    if result.returncode != 0:
        _unavailable("the Docker engine is not running (scripts/ensure_docker.sh starts it)")


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
