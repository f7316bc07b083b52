"""A kernel's bootstrap script runs before its runner is ready; a failure fails the create."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from agents_app.runtime import KernelBootstrapFailed, KernelSpec
from agents_app.runtime.docker_runtime import DockerRuntime
from agents_app.runtime.models import LABEL_AGENT_ID

pytestmark = pytest.mark.docker


class TestBootstrapScript:
    def test_the_script_runs_first_and_its_output_is_in_the_log(
        self, runtime: DockerRuntime, make_spec: Callable[..., KernelSpec]
    ) -> None:
        spec = make_spec(
            bootstrap_script="echo boot-$((6*7)); id -u > /home/work/booted-as\n",
            startup_command="python3 main.py",
        )

        info = runtime.create_kernel(spec)

        scratch = runtime.scratch_dir(spec.kernel_id)
        assert (scratch / "booted-as").read_text() == "1000\n"
        assert "boot-42" in runtime.get_logs(spec.kernel_id)
        env = runtime.client.containers.get(info.container_id).attrs["Config"]["Env"]
        assert "BACKENDAI_STARTUP_COMMAND=python3 main.py" in env
        runtime.destroy_kernel(spec.kernel_id, timeout=2)
        assert not runtime.config_dir(spec.kernel_id).exists()

    def test_a_failing_script_fails_the_create_at_once_with_its_output(
        self,
        make_runtime: Callable[..., DockerRuntime],
        make_spec: Callable[..., KernelSpec],
        docker_client: docker.DockerClient,
        agent_id: str,
    ) -> None:
        runtime = make_runtime(ready_timeout=60.0)
        spec = make_spec(bootstrap_script="echo bad-boot-output\nexit 7\n")
        began = time.monotonic()

        with pytest.raises(KernelBootstrapFailed) as caught:
            runtime.create_kernel(spec)

        assert time.monotonic() - began < 30  # not the readiness timeout
        assert "bad-boot-output" in str(caught.value)
        assert "bad-boot-output" in runtime.get_logs(spec.kernel_id)  # the saved log
        assert (
            docker_client.containers.list(
                all=True, filters={"label": f"{LABEL_AGENT_ID}={agent_id}"}
            )
            == []
        )
        assert runtime.ports.held_by(spec.kernel_id) == []


class TestScratchFolder:
    def test_the_scratch_folder_is_private_on_the_host_and_owned_by_the_kernel_user(
        self, runtime: DockerRuntime, make_spec: Callable[..., KernelSpec]
    ) -> None:
        spec = make_spec()
        runtime.create_kernel(spec)

        scratch: Path = runtime.scratch_dir(spec.kernel_id)
        mode = scratch.stat().st_mode & 0o777
        root_mode = runtime.config.scratch_root.stat().st_mode & 0o777

        assert mode == 0o700 and root_mode == 0o700
        assert scratch.stat().st_uid == 1000

    def test_scratch_usage_counts_what_the_kernel_wrote(
        self, runtime: DockerRuntime, make_spec: Callable[..., KernelSpec]
    ) -> None:
        spec = make_spec()
        info = runtime.create_kernel(spec)
        before = runtime.scratch_usage(spec.kernel_id)

        done = runtime.client.containers.get(info.container_id).exec_run(
            ["sh", "-c", "mkdir -p /home/work/d && head -c 3145728 /dev/urandom > /home/work/d/f"],
            user="1000:1000",
        )

        assert done.exit_code == 0, done.output
        assert runtime.scratch_usage(spec.kernel_id) - before >= 3 * 1024 * 1024
