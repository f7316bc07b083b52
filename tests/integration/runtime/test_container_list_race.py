"""A container removed while the runtime lists this agent's containers (a destroy running in
another thread) drops out of the listing instead of failing it: the agent's periodic kernel check
and its recovery list every container, and Docker's list inspects each one after listing."""

from __future__ import annotations

from typing import Any

import docker
import pytest
from docker.models.containers import ContainerCollection

from agents_app.runtime import KernelInfo, KernelSpec
from agents_app.runtime.docker_runtime import DockerRuntime
from agents_app.runtime.models import LABEL_AGENT_ID, LABEL_KERNEL_ID

pytestmark = pytest.mark.docker


class TestListingRacesARemoval:
    def test_a_container_removed_between_list_and_inspect_drops_out(
        self,
        runtime: DockerRuntime,
        running_kernel: tuple[KernelSpec, KernelInfo],
        docker_client: docker.DockerClient,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        spec, _ = running_kernel
        doomed = docker_client.containers.create(
            spec.image,
            command=["sleep", "60"],
            labels={LABEL_AGENT_ID: spec.agent_id, LABEL_KERNEL_ID: "being-destroyed"},
        )
        inspect = ContainerCollection.get
        removed: list[str] = []

        def get_after_a_removal(self: ContainerCollection, container_id: str) -> Any:
            # the destroy lands after the engine listed the container, before it is inspected
            if container_id == doomed.id and not removed:
                doomed.remove(force=True)
                removed.append(container_id)
            return inspect(self, container_id)

        monkeypatch.setattr(ContainerCollection, "get", get_after_a_removal)

        listed = runtime.list_kernels()

        assert removed == [doomed.id]
        assert [info.kernel_id for info in listed] == [spec.kernel_id]
