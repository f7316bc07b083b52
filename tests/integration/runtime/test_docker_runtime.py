"""DockerRuntime against the real engine: lifecycle, limits, idempotency and recovery."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import docker
import pytest

from agents_app.kernel_runner.client import RunnerClient
from agents_app.runtime import (
    FileAccessError,
    KernelInfo,
    KernelSpec,
    KernelStatus,
    RunnerUnavailable,
)
from agents_app.runtime.docker_runtime import DockerRuntime
from agents_app.runtime.models import LABEL_AGENT_ID, LABEL_KERNEL_ID

pytestmark = pytest.mark.docker

MiB = 1024 * 1024


def _containers_of(client: docker.DockerClient, agent_id: str) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"{LABEL_AGENT_ID}={agent_id}"}))


async def _query(info: KernelInfo, secret: str, code: str) -> Any:
    assert info.runner_port is not None
    async with RunnerClient("127.0.0.1", info.runner_port, secret) as client:
        return await client.run_to_end(await client.execute(code), timeout=30)


class TestKernelLifecycle:
    def test_create_runs_code_and_destroy_removes_container(
        self,
        runtime: DockerRuntime,
        make_spec: Callable[..., KernelSpec],
        docker_client: docker.DockerClient,
        run: Callable[..., Any],
    ) -> None:
        spec = make_spec()

        info = runtime.create_kernel(spec)
        result = run(_query(info, spec.runner_secret, "print(1+1)"))
        destroyed = runtime.destroy_kernel(spec.kernel_id, timeout=5)

        assert info.status == KernelStatus.RUNNING
        assert set(info.host_ports) == {"runner", "http", "sshd"}  # the terminal: via the runner
        assert result.status == "finished" and result.exit_code == 0
        assert result.stdout == "2\n"
        assert destroyed.exit_code is not None
        assert destroyed.log_path is not None and os.path.exists(destroyed.log_path)
        assert "runner listening" in (destroyed.logs or "")
        assert _containers_of(docker_client, spec.agent_id) == []
        assert runtime.ports.held_by(spec.kernel_id) == []
        assert runtime.cpus.held_by(spec.kernel_id) == []

    def test_container_has_limits_labels_and_user(
        self, runtime: DockerRuntime, running_kernel: tuple[KernelSpec, KernelInfo]
    ) -> None:
        spec, info = running_kernel

        attrs = runtime.client.containers.get(info.container_id).attrs

        host_config = attrs["HostConfig"]
        assert host_config["Memory"] == spec.memory_bytes
        assert host_config["MemorySwap"] == spec.memory_bytes
        assert host_config["PidsLimit"] == spec.pids_limit
        assert "no-new-privileges" in host_config["SecurityOpt"]
        assert attrs["Config"]["User"] == "1000:1000"
        labels = attrs["Config"]["Labels"]
        assert labels["ai.backend.kernel-id"] == spec.kernel_id
        assert labels["ai.backend.session-id"] == spec.session_id
        assert labels["ai.backend.owner-access-key"] == spec.owner_access_key
        assert labels["ai.backend.agent-id"] == spec.agent_id
        bindings = host_config["PortBindings"]
        assert all(b[0]["HostIp"] == "127.0.0.1" for b in bindings.values())

    def test_destroy_twice_reports_gone(
        self, runtime: DockerRuntime, running_kernel: tuple[KernelSpec, KernelInfo]
    ) -> None:
        spec, _ = running_kernel
        runtime.destroy_kernel(spec.kernel_id, timeout=2)

        again = runtime.destroy_kernel(spec.kernel_id, timeout=2)

        assert again.status == KernelStatus.GONE
        assert "runner listening" in runtime.get_logs(spec.kernel_id)

    def test_restart_keeps_scratch_files(
        self,
        runtime: DockerRuntime,
        running_kernel: tuple[KernelSpec, KernelInfo],
        run: Callable[..., Any],
    ) -> None:
        spec, info = running_kernel
        runtime.upload_file(spec.kernel_id, "notes/keep.txt", b"kept")

        restarted = runtime.restart_kernel(spec.kernel_id, timeout=2)
        result = run(_query(restarted, spec.runner_secret, "print(open('notes/keep.txt').read())"))

        assert restarted.host_ports == info.host_ports
        assert result.stdout == "kept\n"


class TestMemoryLimit:
    def test_allocation_past_limit_is_oom_killed(
        self,
        runtime: DockerRuntime,
        make_spec: Callable[..., KernelSpec],
        run: Callable[..., Any],
    ) -> None:
        spec = make_spec(memory_bytes=96 * MiB)
        info = runtime.create_kernel(spec)

        with pytest.raises(RunnerUnavailable):
            run(_query(info, spec.runner_secret, "blob = b'x' * (400 * 2**20)"))
        deadline = time.monotonic() + 30
        state = runtime.get_kernel(spec.kernel_id)
        while state.status == KernelStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.2)
            state = runtime.get_kernel(spec.kernel_id)

        assert state.status == KernelStatus.EXITED
        assert state.exit_code == 137
        assert state.oom_killed is True
        assert any(k.oom_killed for k in runtime.list_kernels())


class TestCpuPinning:
    def test_process_sees_only_pinned_cpus(
        self,
        runtime: DockerRuntime,
        make_spec: Callable[..., KernelSpec],
        run: Callable[..., Any],
    ) -> None:
        last_cpu = runtime.cpus.cpu_ids[-1]
        spec = make_spec(cpu_set=[last_cpu])

        info = runtime.create_kernel(spec)
        result = run(_query(info, spec.runner_secret, "import os; sorted(os.sched_getaffinity(0))"))

        assert info.cpu_set == [last_cpu]
        assert result.stdout == f"[{last_cpu}]\n"
        assert runtime.cpus.held_by(spec.kernel_id) == [last_cpu]

    def test_pool_hands_out_distinct_cpus(
        self, make_runtime: Callable[..., DockerRuntime], make_spec: Callable[..., KernelSpec]
    ) -> None:
        cpus = sorted(os.sched_getaffinity(0))[:2]
        if len(cpus) < 2:
            pytest.skip("needs two CPUs")
        runtime = make_runtime(cpu_ids=cpus)

        first = runtime.create_kernel(make_spec())
        second = runtime.create_kernel(make_spec())

        assert sorted(first.cpu_set + second.cpu_set) == cpus


class TestIdempotentCreate:
    def test_redelivered_create_returns_the_same_container(
        self,
        make_runtime: Callable[..., DockerRuntime],
        make_spec: Callable[..., KernelSpec],
        docker_client: docker.DockerClient,
    ) -> None:
        spec = make_spec()
        runtime = make_runtime()
        first = runtime.create_kernel(spec)

        again = runtime.create_kernel(spec)
        from_restarted_agent = make_runtime().create_kernel(spec)

        assert again.container_id == first.container_id
        assert from_restarted_agent.container_id == first.container_id
        assert again.host_ports == first.host_ports
        assert len(_containers_of(docker_client, spec.agent_id)) == 1


class TestRecovery:
    def test_adopt_reserves_ports_and_cpus_of_existing_kernels(
        self, make_runtime: Callable[..., DockerRuntime], make_spec: Callable[..., KernelSpec]
    ) -> None:
        spec = make_spec()
        info = make_runtime().create_kernel(spec)
        fresh = make_runtime()

        adopted = fresh.adopt()
        new_ports = fresh.ports.allocate("probe", 50)

        assert [k.kernel_id for k in adopted] == [spec.kernel_id]
        assert fresh.ports.held_by(spec.kernel_id) == sorted(info.host_ports.values())
        assert fresh.cpus.held_by(spec.kernel_id) == info.cpu_set
        assert not set(new_ports) & set(info.host_ports.values())

    def test_remove_orphans_removes_unknown_labelled_containers(
        self,
        runtime: DockerRuntime,
        running_kernel: tuple[KernelSpec, KernelInfo],
        docker_client: docker.DockerClient,
    ) -> None:
        spec, _ = running_kernel
        stray = docker_client.containers.create(
            spec.image,
            command=["sleep", "60"],
            labels={LABEL_AGENT_ID: spec.agent_id, LABEL_KERNEL_ID: "stray-kernel"},
        )
        other_agent = docker_client.containers.create(
            spec.image,
            command=["sleep", "60"],
            labels={LABEL_AGENT_ID: spec.agent_id + "-other", LABEL_KERNEL_ID: "foreign"},
        )
        try:
            removed = runtime.remove_orphans({spec.kernel_id})

            remaining = {
                c.labels[LABEL_KERNEL_ID] for c in _containers_of(docker_client, spec.agent_id)
            }
            assert removed == ["stray-kernel"]
            assert remaining == {spec.kernel_id}
            other_agent.reload()
        finally:
            other_agent.remove(force=True)
        with pytest.raises(docker.errors.NotFound):
            stray.reload()


class TestScratchFiles:
    def test_upload_list_download_round_trip(
        self, runtime: DockerRuntime, running_kernel: tuple[KernelSpec, KernelInfo]
    ) -> None:
        spec, _ = running_kernel

        runtime.upload_file(spec.kernel_id, "/home/work/data/a.bin", b"\x00\x01\xff")
        listing = runtime.list_files(spec.kernel_id, "data")
        content = runtime.download_file(spec.kernel_id, "data/a.bin")

        assert [(e.name, e.size, e.is_dir) for e in listing] == [("a.bin", 3, False)]
        assert content == b"\x00\x01\xff"

    def test_paths_outside_home_are_refused(
        self, runtime: DockerRuntime, running_kernel: tuple[KernelSpec, KernelInfo]
    ) -> None:
        spec, _ = running_kernel

        with pytest.raises(FileAccessError):
            runtime.download_file(spec.kernel_id, "../../etc/passwd")


class TestImagesAndStats:
    def test_list_images_includes_kernel_image_labels(
        self, runtime: DockerRuntime, make_spec: Callable[..., KernelSpec]
    ) -> None:
        image = make_spec().image

        images = {i.name: i for i in runtime.list_images()}

        assert image in images
        assert images[image].labels["ai.backend.kernelspec"] == "1"
        assert "terminal:pty:7681" in images[image].labels["ai.backend.service-ports"]

    def test_container_stats_report_memory(
        self, runtime: DockerRuntime, running_kernel: tuple[KernelSpec, KernelInfo]
    ) -> None:
        spec, _ = running_kernel

        stats = runtime.container_stats(spec.kernel_id)

        assert stats.memory_bytes > 0
        assert stats.memory_limit_bytes == spec.memory_bytes
        assert stats.cpu_percent >= 0.0
