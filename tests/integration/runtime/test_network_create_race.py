"""The shared kernel bridge stays one network: agent processes starting together create it once
(Docker itself accepts two networks of one name), and a duplicate left by an older race is
removed when no container uses it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import docker
import pytest

from agents_app.runtime.networks import kernel_network_ensure
from tests.helpers.paths import REPO_ROOT

pytestmark = pytest.mark.docker

ENSURE = (
    "import docker, sys; from agents_app.runtime.networks import kernel_network_ensure; "
    "kernel_network_ensure(docker.from_env(), sys.argv[1])"
)


@pytest.fixture
def network_name(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"bai-race-{uuid.uuid4().hex[:8]}"
    yield name
    for network in docker_client.networks.list(names=[name]):
        network.remove()


def named(client: docker.DockerClient, name: str) -> list[str]:
    return [n.id for n in client.networks.list(names=[name]) if n.name == name]


def test_processes_racing_create_one_network(
    docker_client: docker.DockerClient, network_name: str
) -> None:
    racers = [
        subprocess.Popen([sys.executable, "-c", ENSURE, network_name], cwd=REPO_ROOT)
        for _ in range(4)
    ]

    codes = [racer.wait(timeout=120) for racer in racers]

    assert codes == [0, 0, 0, 0]
    assert len(named(docker_client, network_name)) == 1


def test_an_unused_duplicate_is_removed(
    docker_client: docker.DockerClient, network_name: str
) -> None:
    options = {"com.docker.network.bridge.enable_icc": "false"}
    first = docker_client.networks.create(network_name, driver="bridge", options=options)
    docker_client.networks.create(network_name, driver="bridge", options=options)
    assert len(named(docker_client, network_name)) == 2

    kernel_network_ensure(docker_client, network_name)

    assert named(docker_client, network_name) == [first.id]
