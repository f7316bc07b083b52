"""The daemon's KernelBackend on top of `agents_app.runtime` (the Docker runtime).

Translates the daemon's terms (KernelLaunch/KernelState) to the runtime's pydantic models
(KernelSpec/KernelInfo) and its errors to `KernelNotFound`. The runtime is imported lazily so
that importing the daemon needs neither Docker nor the runtime package.
"""

from __future__ import annotations

import logging
import platform
import secrets
from typing import TYPE_CHECKING, Any

from agents_app.imageref import normalize_architecture
from agents_app.schemas import KernelStat, LocalImage, PublishedPort

from .backend import KernelLaunch, KernelNotFound, KernelState
from .config import AgentConfig

if TYPE_CHECKING:
    from agents_app.runtime.models import KernelInfo
    from agents_app.runtime.protocol import Runtime

log = logging.getLogger(__name__)

RUNNER_CONTAINER_PORT = 2000
MIN_MEMORY_BYTES = 6 * 1024 * 1024


def make_docker_runtime(config: AgentConfig) -> Runtime:
    from agents_app.runtime import DockerRuntime, DockerRuntimeConfig

    return DockerRuntime(
        DockerRuntimeConfig(
            agent_id=config.id,
            scratch_root=config.scratch_dir(),
            cpu_ids=config.effective_cpu_ids(),
            exclusive_cpus=config.exclusive_cpus,
            port_range=config.port_range,
            advertised_host=config.advertised_host,
            docker_base_url=config.docker_socket or None,
        )
    )


class DockerBackend:
    def __init__(self, config: AgentConfig, runtime: Runtime | None = None) -> None:
        self.config = config
        self.runtime = runtime if runtime is not None else make_docker_runtime(config)
        self.architecture = normalize_architecture(platform.machine())

    # translation -----------------------------------------------------------------------------
    def _state(self, info: KernelInfo) -> KernelState:
        ports: list[PublishedPort] = []
        if info.runner_port is not None:
            ports.append(
                PublishedPort(
                    name="runner",
                    protocol="tcp",
                    container_port=RUNNER_CONTAINER_PORT,
                    host_port=info.runner_port,
                )
            )
        for service in info.service_ports:
            host_port = info.host_ports.get(service.name)
            if host_port is not None and service.container_ports:
                ports.append(
                    PublishedPort(
                        name=service.name,
                        protocol=service.protocol,
                        container_port=service.container_ports[0],
                        host_port=host_port,
                    )
                )
        return KernelState(
            kernel_id=info.kernel_id,
            container_id=info.container_id or "",
            running=info.running,
            session_id=info.session_id,
            exit_code=info.exit_code,
            oom_killed=info.oom_killed,
            ports=ports,
            labels=dict(info.labels),
            cpu_ids=list(info.cpu_set),
            mem_bytes=info.memory_bytes,
        )

    def _call(self, kernel_id: str, method: str, *args: Any, **kwargs: Any) -> Any:
        from agents_app.runtime.errors import KernelNotFound as RuntimeKernelNotFound

        try:
            return getattr(self.runtime, method)(*args, **kwargs)
        except RuntimeKernelNotFound:
            raise KernelNotFound(kernel_id) from None

    # KernelBackend -----------------------------------------------------------------------------
    def create(self, launch: KernelLaunch) -> KernelState:
        from agents_app.runtime.models import KernelSpec, Mount

        spec = KernelSpec(
            kernel_id=launch.kernel_id,
            session_id=launch.session_id,
            owner_access_key=launch.owner_access_key,
            agent_id=self.config.id,
            image=launch.image,
            cpu_count=launch.cpu_count,
            memory_bytes=max(launch.mem_bytes, MIN_MEMORY_BYTES),
            environ=launch.environ,
            mounts=[Mount(**mount) for mount in launch.mounts],
            runner_secret=launch.kernel_secret or secrets.token_urlsafe(24),
            labels=launch.labels,
            cluster_hostname=launch.cluster_hostname,
            network=launch.network,
        )
        return self._state(self.runtime.create_kernel(spec))

    def destroy(self, kernel_id: str, timeout: float) -> KernelState:
        from agents_app.runtime.models import KernelStatus

        info = self._call(kernel_id, "destroy_kernel", kernel_id, timeout=timeout)
        if info.status == KernelStatus.GONE and not info.container_id:
            raise KernelNotFound(kernel_id)
        return self._state(info)

    def restart(self, kernel_id: str) -> KernelState:
        return self._state(
            self._call(kernel_id, "restart_kernel", kernel_id, timeout=self.config.stop_timeout)
        )

    def state(self, kernel_id: str) -> KernelState:
        return self._state(self._call(kernel_id, "get_kernel", kernel_id))

    def adopt(self) -> list[KernelState]:
        return [self._state(info) for info in self.runtime.adopt()]

    def kernels(self) -> list[KernelState]:
        return [self._state(info) for info in self.runtime.list_kernels()]

    def stats(self) -> list[KernelStat]:
        result: list[KernelStat] = []
        for info in self.runtime.list_kernels():
            if not info.running:
                continue
            try:
                stats = self.runtime.container_stats(info.kernel_id)
            except Exception:
                log.debug(
                    "no stats", extra={"agent_id": self.config.id, "kernel_id": info.kernel_id}
                )
                continue
            result.append(
                KernelStat(
                    kernel_id=info.kernel_id,
                    container_id=info.container_id or "",
                    status=str(info.status),
                    cpu_used_seconds=stats.cpu_used_seconds,
                    mem_bytes=stats.memory_bytes,
                    mem_limit_bytes=stats.memory_limit_bytes,
                )
            )
        return result

    def logs(self, kernel_id: str, tail: int | None = None) -> str:
        return str(self._call(kernel_id, "get_logs", kernel_id, tail=tail))

    def list_files(self, kernel_id: str, path: str) -> list[dict[str, Any]]:
        entries = self._call(kernel_id, "list_files", kernel_id, path)
        return [entry.model_dump(mode="json") for entry in entries]

    def local_images(self) -> list[LocalImage]:
        images: list[LocalImage] = []
        for image in self.runtime.list_images():
            for ref in image.tags or [image.name]:
                images.append(
                    LocalImage(
                        ref=ref,
                        digest=image.digest or image.id,
                        architecture=self.architecture,
                        labels=image.labels,
                        size_bytes=image.size_bytes,
                    )
                )
        return images

    def pull(self, ref: str, username: str = "", password: str = "") -> str:
        pull_image = getattr(self.runtime, "pull_image", None)  # not in the Runtime protocol
        if pull_image is None:
            raise NotImplementedError("this runtime cannot pull images")
        auth = {"username": username, "password": password} if username else None
        image = pull_image(ref, auth=auth)
        return str(image.digest or image.id)

    def close(self) -> None:
        self.runtime.close()
