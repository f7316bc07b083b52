"""Fixtures for the Docker runtime tests: a real engine, the local kernel image, per-test agents.

The session fixture starts Docker (scripts/ensure_docker.sh) and builds the kernel image
(scripts/build_kernel_image.sh) when they are missing. If Docker still cannot be used the tests
fail under CI=true and are skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import DockerException, ImageNotFound, NotFound

from agents_app.runtime import KernelInfo, KernelSpec
from agents_app.runtime.docker_runtime import DockerRuntime, DockerRuntimeConfig
from agents_app.runtime.models import LABEL_AGENT_ID

REPO_ROOT = Path(__file__).resolve().parents[3]
KERNEL_IMAGE = os.environ.get("BAI_TEST_KERNEL_IMAGE", "backendai/python:3.11-debian")
TEST_PORT_RANGE = (32000, 32999)
MiB = 1024 * 1024


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "docker: needs the real Docker engine")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Docker is required under CI: {reason}")
    pytest.skip(reason)


def _run_script(name: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_ROOT / "scripts" / name)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _docker_answers() -> bool:
    try:
        client = docker.from_env(timeout=10)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except DockerException:
        return False


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A Docker client for a running engine that has the kernel image."""
    if not _docker_answers():
        result = _run_script("ensure_docker.sh", timeout=600)
        if result.returncode != 0 or not _docker_answers():
            _unavailable(f"Docker is not available: {result.stderr.strip()[-500:]}")
    client = docker.from_env(timeout=120)
    try:
        client.images.get(KERNEL_IMAGE)
    except ImageNotFound:
        result = _run_script("build_kernel_image.sh", timeout=900)
        if result.returncode != 0:
            _unavailable(f"cannot build {KERNEL_IMAGE}: {result.stderr.strip()[-500:]}")
    yield client
    client.close()


@pytest.fixture
def agent_id(docker_client: docker.DockerClient) -> Iterator[str]:
    """A fresh agent id; every container labelled with it is removed afterwards."""
    value = f"test-{uuid.uuid4().hex[:10]}"
    yield value
    for container in docker_client.containers.list(
        all=True, filters={"label": f"{LABEL_AGENT_ID}={value}"}
    ):
        with contextlib.suppress(NotFound):
            container.remove(force=True)


@pytest.fixture
def scratch_root(tmp_path: Path) -> Path:
    return tmp_path / "scratch"


@pytest.fixture
def make_runtime(
    docker_client: docker.DockerClient, agent_id: str, scratch_root: Path
) -> Iterator[Callable[..., DockerRuntime]]:
    """Build DockerRuntime instances for this test's agent (several stand for restarts)."""
    made: list[DockerRuntime] = []

    def factory(**overrides: Any) -> DockerRuntime:
        fields: dict[str, Any] = {
            "agent_id": agent_id,
            "scratch_root": scratch_root,
            "port_range": TEST_PORT_RANGE,
            "ready_timeout": 30.0,
            **overrides,
        }
        runtime = DockerRuntime(DockerRuntimeConfig(**fields))
        made.append(runtime)
        return runtime

    yield factory
    for runtime in made:
        runtime.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., DockerRuntime]) -> DockerRuntime:
    return make_runtime()


@pytest.fixture
def make_spec(agent_id: str) -> Callable[..., KernelSpec]:
    def factory(**overrides: Any) -> KernelSpec:
        fields: dict[str, Any] = {
            "kernel_id": f"k-{uuid.uuid4().hex[:12]}",
            "session_id": f"s-{uuid.uuid4().hex[:12]}",
            "owner_access_key": "AKTESTKEY",
            "agent_id": agent_id,
            "image": KERNEL_IMAGE,
            "cpu_count": 1,
            "memory_bytes": 256 * MiB,
            "runner_secret": secrets.token_hex(16),
            **overrides,
        }
        return KernelSpec(**fields)

    return factory


@pytest.fixture
def running_kernel(
    runtime: DockerRuntime, make_spec: Callable[..., KernelSpec]
) -> tuple[KernelSpec, KernelInfo]:
    spec = make_spec()
    return spec, runtime.create_kernel(spec)


def run_async[T](coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run one coroutine to completion with an overall timeout (tests stay synchronous)."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def run() -> Callable[..., Any]:
    return run_async
