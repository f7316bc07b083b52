"""Kernels of one single-node cluster share a private network and find each other by hostname."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import docker
import pytest

from agents_app.runtime.docker_runtime import DockerRuntime
from agents_app.runtime.models import KernelSpec

pytestmark = pytest.mark.docker


class TestClusterNetwork:
    def test_kernels_resolve_each_other_and_the_network_goes_with_them(
        self,
        runtime: DockerRuntime,
        make_spec: Callable[..., KernelSpec],
        docker_client: docker.DockerClient,
    ) -> None:
        network = f"bai-test-{uuid.uuid4().hex[:10]}"
        session_id = f"s-{uuid.uuid4().hex[:8]}"
        main = runtime.create_kernel(
            make_spec(session_id=session_id, cluster_hostname="main1", network=network)
        )
        sub = runtime.create_kernel(
            make_spec(session_id=session_id, cluster_hostname="sub1", network=network)
        )

        container = docker_client.containers.get(main.container_id)
        lookup = container.exec_run(
            ["python3", "-c", "import socket; print(socket.gethostbyname('sub1'))"]
        )
        runtime.destroy_kernel(main.kernel_id)
        still_there = bool(docker_client.networks.list(names=[network]))
        runtime.destroy_kernel(sub.kernel_id)

        assert lookup.exit_code == 0, lookup.output
        assert lookup.output.decode().strip().count(".") == 3
        assert still_there  # kept while a kernel of the session uses it
        assert docker_client.networks.list(names=[network]) == []
