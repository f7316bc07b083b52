"""`DockerRuntime`: kernels as Docker containers, through the Docker SDK (sync).

Every operation is idempotent: containers are found by their `ai.backend.kernel-id` and
`ai.backend.agent-id` labels, so a redelivered create returns the existing kernel and a repeated
destroy reports the kernel as gone. Pool reservations can be rebuilt from Docker alone (`adopt`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.errors import ImageNotFound as DockerImageNotFound
from docker.models.containers import Container
from docker.types import EndpointConfig
from docker.types import Mount as DockerMount
from pydantic import BaseModel, Field

from agents_app.kernel_runner import RUNNER_PATH
from agents_app.kernel_runner.client import wait_runner_ready

from .commit import committed_image, container_commit, workdir_seed
from .dotfiles import dotfiles_write
from .errors import (
    CommitFailed,
    FileAccessError,
    ImageNotFound,
    KernelBootstrapFailed,
    KernelCreationFailed,
    KernelNotFound,
    RuntimeBackendError,
)
from .models import (
    BOOTSTRAP_FAILED_EXIT_CODE,
    LABEL_AGENT_ID,
    LABEL_CLUSTER_HOSTNAME,
    LABEL_COMMIT_TASK_ID,
    LABEL_COMMIT_WORKDIR,
    LABEL_KERNEL_ID,
    LABEL_OWNER_ACCESS_KEY,
    LABEL_RUNNER_PORT,
    LABEL_RUNTIME_PATH,
    LABEL_SERVICE_PORTS,
    LABEL_SESSION_ID,
    RUNNER_SERVICE_NAME,
    ContainerStats,
    FileEntry,
    ImageInfo,
    KernelInfo,
    KernelSpec,
    KernelStatus,
    ServicePort,
    format_service_ports_label,
    parse_service_ports_label,
)
from .networks import (
    kernel_network_ensure,
    session_network_ensure,
    session_networks_remove_idle,
)
from .pools import CpuPool, PortPool
from .warm import pooled_kernel_bind

log = logging.getLogger(__name__)

CONTAINER_WORKDIR = "/home/work"
CONTAINER_RUNNER_PATH = "/opt/bai/bai_runner"  # the package directory, run as a script
CONTAINER_CONFIG_DIR = "/home/config"
BOOTSTRAP_FILE = "bootstrap.sh"
_PORT_CONFLICT_HINTS = ("port is already allocated", "address already in use")
_START_ATTEMPTS = 3


class DockerRuntimeConfig(BaseModel):
    agent_id: str
    scratch_root: Path
    cpu_ids: list[int] | None = None  # the agent's declared CPUs; None = this process's affinity
    exclusive_cpus: bool = True
    port_range: tuple[int, int] = (30000, 30999)
    bind_host: str = "127.0.0.1"  # where container ports are published
    advertised_host: str = "127.0.0.1"  # what KernelInfo.host tells clients
    runner_port: int = 2000  # inside the container
    runner_path: Path = RUNNER_PATH
    ready_timeout: float = Field(default=30.0, gt=0)
    kernel_uid: int = 1000
    kernel_gid: int = 1000
    keep_scratch_on_destroy: bool = False
    # The bridge network of single-kernel sessions, with inter-container traffic off; created
    # once when the runtime starts (cluster sessions get a private network of their own).
    kernel_network: str = Field(default="bai-kernels", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    docker_base_url: str | None = None  # None: from the environment (DOCKER_HOST or the socket)


def _parse_cpuset(text: str | None) -> list[int]:
    cpus: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            cpus.update(range(int(low), int(high) + 1))
        else:
            cpus.add(int(part))
    return sorted(cpus)


def _parse_docker_time(value: str | None) -> datetime | None:
    if not value or value.startswith("0001-01-01"):
        return None
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", value)
    if match is None:
        return None
    fraction = (match.group(2) or ".0")[:7]
    zone = match.group(3) or "Z"
    return datetime.fromisoformat(match.group(1) + fraction + ("+00:00" if zone == "Z" else zone))


def _image_info(image: Any, name: str) -> ImageInfo:
    repo_digests = image.attrs.get("RepoDigests") or []
    return ImageInfo(
        id=str(image.id),
        name=name,
        tags=list(image.tags),
        digest=repo_digests[0].split("@", 1)[-1] if repo_digests else str(image.id),
        size_bytes=int(image.attrs.get("Size") or 0),
        labels=dict(image.labels or {}),
    )


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text).strip("-.") or "agent"


class DockerRuntime:
    """Runs kernels for one agent. Thread-safe; one instance per agent process."""

    def __init__(
        self, config: DockerRuntimeConfig, *, client: docker.DockerClient | None = None
    ) -> None:
        self.config = config
        if client is not None:
            self.client = client
        elif config.docker_base_url:
            self.client = docker.DockerClient(base_url=config.docker_base_url)
        else:
            self.client = docker.from_env()
        cpu_ids = config.cpu_ids if config.cpu_ids is not None else sorted(os.sched_getaffinity(0))
        self.cpus = CpuPool(cpu_ids, exclusive=config.exclusive_cpus)
        self.ports = PortPool(*config.port_range, bind_host=config.bind_host)
        self.config.scratch_root.mkdir(parents=True, exist_ok=True)
        self.config.scratch_root.chmod(0o700)  # kernels' files are no other host user's business
        self._locks_guard = threading.Lock()
        self._kernel_locks: dict[str, threading.Lock] = {}
        self.ensure_kernel_network()

    # -- helpers ------------------------------------------------------------------------------

    @property
    def _connect_host(self) -> str:
        return "127.0.0.1" if self.config.bind_host in ("0.0.0.0", "") else self.config.bind_host

    def _log_extra(self, kernel_id: str, **fields: Any) -> dict[str, Any]:
        return {"agent_id": self.config.agent_id, "kernel_id": kernel_id, **fields}

    @contextlib.contextmanager
    def _kernel_lock(self, kernel_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._kernel_locks.setdefault(kernel_id, threading.Lock())
        with lock:
            yield

    def container_name(self, kernel_id: str) -> str:
        return f"bai-{_safe_name(self.config.agent_id)}-{kernel_id}"

    def scratch_dir(self, kernel_id: str) -> Path:
        return self.config.scratch_root / kernel_id

    def config_dir(self, kernel_id: str) -> Path:
        """Files the platform gives the kernel (its bootstrap script), at /home/config."""
        return self.config.scratch_root / f"{kernel_id}.config"

    def log_path(self, kernel_id: str) -> Path:
        return self.config.scratch_root / f"{kernel_id}.log"

    def _agent_filter(self, kernel_id: str | None = None) -> dict[str, Any]:
        labels = [f"{LABEL_AGENT_ID}={self.config.agent_id}"]
        if kernel_id is not None:
            labels.append(f"{LABEL_KERNEL_ID}={kernel_id}")
        return {"label": labels}

    def _containers(self) -> list[Container]:
        # `list` inspects each listed container; one removed in between (a destroy running
        # meanwhile) is dropped instead of failing the whole listing with NotFound
        return list(
            self.client.containers.list(all=True, filters=self._agent_filter(), ignore_removed=True)
        )

    def _find(self, kernel_id: str) -> Container | None:
        found = self.client.containers.list(
            all=True, filters=self._agent_filter(kernel_id), ignore_removed=True
        )
        if found:
            return found[0]
        with contextlib.suppress(NotFound):  # a create that raced us may not be listed yet
            container = self.client.containers.get(self.container_name(kernel_id))
            if container.labels.get(LABEL_KERNEL_ID) == kernel_id:
                return container
        return None

    def _get(self, kernel_id: str) -> Container:
        container = self._find(kernel_id)
        if container is None:
            raise KernelNotFound(f"no container for kernel {kernel_id}")
        return container

    def _info(self, container: Container) -> KernelInfo:
        attrs = container.attrs
        state = attrs.get("State") or {}
        labels = dict((attrs.get("Config") or {}).get("Labels") or {})
        host_config = attrs.get("HostConfig") or {}
        status = KernelStatus.from_docker(str(state.get("Status", "dead")))
        try:
            service_ports = parse_service_ports_label(labels.get(LABEL_SERVICE_PORTS))
        except ValueError:
            service_ports = []
        runner_port = int(labels.get(LABEL_RUNNER_PORT, self.config.runner_port))
        names = {runner_port: RUNNER_SERVICE_NAME}
        for sp in service_ports:
            for index, port in enumerate(sp.container_ports):
                names.setdefault(port, sp.name if index == 0 else f"{sp.name}:{port}")
        host_ports: dict[str, int] = {}
        for key, bindings in (host_config.get("PortBindings") or {}).items():
            port = int(str(key).split("/")[0])
            if bindings and bindings[0].get("HostPort"):
                host_ports[names.get(port, str(port))] = int(bindings[0]["HostPort"])
        finished = status in (KernelStatus.EXITED, KernelStatus.DEAD)
        return KernelInfo(
            kernel_id=labels.get(LABEL_KERNEL_ID, ""),
            session_id=labels.get(LABEL_SESSION_ID, ""),
            agent_id=labels.get(LABEL_AGENT_ID, ""),
            owner_access_key=labels.get(LABEL_OWNER_ACCESS_KEY, ""),
            container_id=container.id,
            container_name=container.name,
            image=str((attrs.get("Config") or {}).get("Image", "")),
            status=status,
            host=self.config.advertised_host,
            host_ports=host_ports,
            runner_port=host_ports.get(RUNNER_SERVICE_NAME),
            service_ports=service_ports,
            cpu_set=_parse_cpuset(host_config.get("CpusetCpus")),
            memory_bytes=host_config.get("Memory") or None,
            exit_code=int(state.get("ExitCode", 0)) if finished else None,
            oom_killed=bool(state.get("OOMKilled", False)),
            started_at=_parse_docker_time(state.get("StartedAt")),
            finished_at=_parse_docker_time(state.get("FinishedAt")) if finished else None,
            labels=labels,
        )

    def _reserve(self, info: KernelInfo) -> None:
        self.ports.reserve(info.kernel_id, info.host_ports.values())
        self.cpus.reserve(info.kernel_id, info.cpu_set, strict=False)

    def _release(self, kernel_id: str) -> None:
        self.ports.release(kernel_id)
        self.cpus.release(kernel_id)

    def _secret_of(self, container: Container) -> str:
        for item in (container.attrs.get("Config") or {}).get("Env") or []:
            if item.startswith("BAI_RUNNER_SECRET="):
                return str(item.split("=", 1)[1])
        return ""

    def _save_logs(self, container: Container, kernel_id: str) -> tuple[str, Path]:
        try:
            text = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        except APIError:
            text = ""
        path = self.log_path(kernel_id)
        path.write_text(text, encoding="utf-8")
        return text, path

    def _wait_ready(self, info: KernelInfo, secret: str, container: Container) -> None:
        if info.runner_port is None:
            raise KernelCreationFailed(f"kernel {info.kernel_id} has no published runner port")

        def alive() -> bool:  # a container that exited (a failed bootstrap) fails at once
            with contextlib.suppress(NotFound, APIError):
                container.reload()
            return str((container.attrs.get("State") or {}).get("Status")) in ("created", "running")

        wait_runner_ready(
            self._connect_host,
            info.runner_port,
            secret,
            timeout=self.config.ready_timeout,
            alive=alive,
        )

    def _not_ready(self, container: Container, kernel_id: str, exc: Exception) -> Exception:
        """Keep the log, remove the container, free its resources; the error to raise."""
        with contextlib.suppress(NotFound, APIError):
            container.reload()
        text, _ = self._save_logs(container, kernel_id)
        exit_code = (container.attrs.get("State") or {}).get("ExitCode")
        with contextlib.suppress(NotFound, APIError):
            container.remove(force=True)
        self._release(kernel_id)
        self._remove_config(kernel_id)
        log.error(
            "kernel runner never became ready", extra=self._log_extra(kernel_id, error=str(exc))
        )
        if exit_code == BOOTSTRAP_FAILED_EXIT_CODE:
            return KernelBootstrapFailed(
                f"the bootstrap script of kernel {kernel_id} failed; log tail: {text[-2000:]}"
            )
        return KernelCreationFailed(
            f"runner of kernel {kernel_id} not ready: {exc}; log tail: {text[-2000:]}"
        )

    # -- kernels ------------------------------------------------------------------------------

    def create_kernel(self, spec: KernelSpec) -> KernelInfo:
        """Create, start and wait for the runner; returns the existing kernel if there is one."""
        if spec.agent_id != self.config.agent_id:
            raise KernelCreationFailed(
                f"spec is for agent {spec.agent_id}, this is {self.config.agent_id}"
            )
        with self._kernel_lock(spec.kernel_id):
            existing = self._find(spec.kernel_id)
            if existing is not None:
                return self._existing(existing, spec)
            image_labels = self._image_labels(spec.image)
            if spec.service_ports is not None:
                service_ports = spec.service_ports
            else:
                service_ports = parse_service_ports_label(image_labels.get(LABEL_SERVICE_PORTS))
            if spec.cpu_set:
                self.cpus.reserve(spec.kernel_id, spec.cpu_set)
                cpus = spec.cpu_set
            else:
                cpus = self.cpus.allocate(spec.kernel_id, spec.cpu_count)
            try:
                container, created = self._create_container(spec, image_labels, service_ports, cpus)
            except BaseException:
                self._release(spec.kernel_id)
                raise
            if not created:
                return self._existing(container, spec)
            info = self._info(container)
            try:
                self._wait_ready(info, spec.runner_secret, container)
            except RuntimeBackendError as exc:
                raise self._not_ready(container, spec.kernel_id, exc) from exc
            container.reload()
            info = self._info(container)
            log.info(
                "kernel created",
                extra=self._log_extra(
                    spec.kernel_id, container_id=info.container_id, host_ports=info.host_ports
                ),
            )
            return info

    def bind_kernel(
        self, kernel_id: str, *, session_id: str, environ: dict[str, str]
    ) -> KernelInfo:
        """Hand a running pooled kernel to a session (runtime/warm.py)."""
        return pooled_kernel_bind(self, kernel_id, session_id=session_id, environ=environ)

    def _existing(self, container: Container, spec: KernelSpec) -> KernelInfo:
        info = self._info(container)
        self._reserve(info)
        if info.status == KernelStatus.RUNNING:
            self._wait_ready(info, spec.runner_secret, container)
        log.info(
            "kernel already exists; create is a no-op",
            extra=self._log_extra(spec.kernel_id, status=str(info.status)),
        )
        return info

    def _image_labels(self, image: str) -> dict[str, str]:
        try:
            return dict(self.client.images.get(image).labels or {})
        except DockerImageNotFound as exc:
            raise ImageNotFound(f"image {image} is not on this agent") from exc

    def _prepare_scratch(self, kernel_id: str) -> Path:
        scratch = self.scratch_dir(kernel_id)
        scratch.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(scratch, self.config.kernel_uid, self.config.kernel_gid)
        # Only the kernel's uid (the owner inside the container) may enter it on the host.
        scratch.chmod(0o700)
        return scratch

    def _prepare_config(self, spec: KernelSpec) -> Path | None:
        """Write the bootstrap script where the runner finds it (read-only for the kernel)."""
        if not spec.bootstrap_script:
            return None
        folder = self.config_dir(spec.kernel_id)
        folder.mkdir(mode=0o700, exist_ok=True)
        script = folder / BOOTSTRAP_FILE
        script.write_text(spec.bootstrap_script, encoding="utf-8")
        script.chmod(0o500)
        if os.geteuid() == 0:
            for path in (folder, script):
                os.chown(path, self.config.kernel_uid, self.config.kernel_gid)
        folder.chmod(0o500)
        return folder

    def _remove_config(self, kernel_id: str) -> None:
        folder = self.config_dir(kernel_id)
        if folder.exists():
            folder.chmod(0o700)
            shutil.rmtree(folder, ignore_errors=True)

    def _create_container(
        self,
        spec: KernelSpec,
        image_labels: dict[str, str],
        service_ports: list[ServicePort],
        cpus: list[int],
    ) -> tuple[Container, bool]:
        """Create and start the container; (container, False) if a racing create won."""
        runner_port = self.config.runner_port
        # Services the runner serves itself (the built-in terminal) listen on no port: they are
        # reached only through the runner's authenticated channel (a tunnel), so none is published.
        container_ports = [runner_port] + [
            p for sp in service_ports if not sp.runner_served for p in sp.container_ports
        ]
        scratch = self._prepare_scratch(spec.kernel_id)
        dotfiles_write(
            scratch, spec.dotfiles, uid=self.config.kernel_uid, gid=self.config.kernel_gid
        )
        environ = {
            **spec.environ,
            "HOME": CONTAINER_WORKDIR,
            "BAI_WORKDIR": CONTAINER_WORKDIR,
            "BAI_RUNNER_SECRET": spec.runner_secret,
            "BAI_RUNNER_PORT": str(runner_port),
            "BAI_SERVICE_PORTS": json.dumps([sp.model_dump() for sp in service_ports]),
            "BAI_KERNEL_ID": spec.kernel_id,
            "BAI_SESSION_ID": spec.session_id,
            "BACKENDAI_KERNEL_ID": spec.kernel_id,
            "BACKENDAI_SESSION_ID": spec.session_id,
            "BACKENDAI_CLUSTER_HOST": spec.cluster_hostname,
        }
        if spec.startup_command:
            environ["BACKENDAI_STARTUP_COMMAND"] = spec.startup_command
        config_dir = self._prepare_config(spec)
        if config_dir is not None:
            environ["BAI_BOOTSTRAP_SCRIPT"] = f"{CONTAINER_CONFIG_DIR}/{BOOTSTRAP_FILE}"
        labels = {
            **spec.labels,
            LABEL_KERNEL_ID: spec.kernel_id,
            LABEL_SESSION_ID: spec.session_id,
            LABEL_OWNER_ACCESS_KEY: spec.owner_access_key,
            LABEL_AGENT_ID: spec.agent_id,
            LABEL_RUNNER_PORT: str(runner_port),
            LABEL_SERVICE_PORTS: format_service_ports_label(service_ports),
            LABEL_CLUSTER_HOSTNAME: spec.cluster_hostname,
        }
        mounts = [
            DockerMount(CONTAINER_RUNNER_PATH, str(self.config.runner_path), "bind", True),
            DockerMount(CONTAINER_WORKDIR, str(scratch), "bind", False),
        ] + [DockerMount(m.container_path, m.host_path, "bind", m.read_only) for m in spec.mounts]
        if config_dir is not None:
            mounts.append(DockerMount(CONTAINER_CONFIG_DIR, str(config_dir), "bind", True))
        python = image_labels.get(LABEL_RUNTIME_PATH) or "python3"
        name = self.container_name(spec.kernel_id)
        networking: dict[str, Any] = {}
        network = spec.network or self.config.kernel_network
        if spec.network:
            session_network_ensure(
                self.client, spec.network, session_id=spec.session_id, agent_id=spec.agent_id
            )
            networking["networking_config"] = {
                spec.network: EndpointConfig(
                    self.client.api._version, aliases=[spec.cluster_hostname]
                )
            }
        for attempt in range(1, _START_ATTEMPTS + 1):
            host_ports = self.ports.allocate(spec.kernel_id, len(container_ports))
            bind = self.config.bind_host
            try:
                container = self.client.containers.create(
                    spec.image,
                    command=[python, CONTAINER_RUNNER_PATH],
                    name=name,
                    hostname=spec.cluster_hostname,
                    labels=labels,
                    environment=environ,
                    user=f"{self.config.kernel_uid}:{self.config.kernel_gid}",
                    working_dir=CONTAINER_WORKDIR,
                    cpuset_cpus=",".join(map(str, cpus)),
                    mem_limit=spec.memory_bytes,
                    memswap_limit=spec.memory_bytes,
                    pids_limit=spec.pids_limit,
                    security_opt=["no-new-privileges"],
                    cap_drop=["ALL"],
                    init=True,
                    ports={
                        f"{cp}/tcp": (bind, hp)
                        for cp, hp in zip(container_ports, host_ports, strict=True)
                    },
                    mounts=mounts,
                    network=network,
                    **networking,
                )
            except APIError as exc:
                self.ports.release(spec.kernel_id)
                if exc.status_code == 409:
                    with contextlib.suppress(NotFound):
                        return self.client.containers.get(name), False
                raise KernelCreationFailed(f"cannot create container: {exc}") from exc
            seed = image_labels.get(LABEL_COMMIT_WORKDIR)
            if seed:  # a committed image: its /home/work goes into the new scratch folder
                try:
                    workdir_seed(container, seed=seed, workdir=CONTAINER_WORKDIR)
                except CommitFailed as exc:
                    with contextlib.suppress(NotFound, APIError):
                        container.remove(force=True)
                    self.ports.release(spec.kernel_id)
                    raise KernelCreationFailed(str(exc)) from exc
                # this session's dotfiles win over the copies the committed home holds
                dotfiles_write(
                    scratch, spec.dotfiles, uid=self.config.kernel_uid, gid=self.config.kernel_gid
                )
            try:
                # No reload here: the create's inspect already has the port bindings the
                # readiness check needs; the caller reloads once the runner answered.
                container.start()
                return container, True
            except APIError as exc:
                with contextlib.suppress(NotFound, APIError):
                    container.remove(force=True)
                self.ports.release(spec.kernel_id)
                conflict = any(hint in str(exc).lower() for hint in _PORT_CONFLICT_HINTS)
                if not conflict or attempt == _START_ATTEMPTS:
                    raise KernelCreationFailed(f"cannot start container: {exc}") from exc
                log.warning(
                    "host port taken; retrying with other ports",
                    extra=self._log_extra(spec.kernel_id, attempt=attempt),
                )
        raise KernelCreationFailed("unreachable")  # pragma: no cover

    def destroy_kernel(self, kernel_id: str, timeout: float = 10.0) -> KernelInfo:
        """Stop (SIGTERM, then SIGKILL after `timeout`), keep the log, remove, free resources."""
        with self._kernel_lock(kernel_id):
            container = self._find(kernel_id)
            if container is None:
                self._release(kernel_id)
                path = self.log_path(kernel_id)
                return KernelInfo(
                    kernel_id=kernel_id,
                    agent_id=self.config.agent_id,
                    status=KernelStatus.GONE,
                    host=self.config.advertised_host,
                    log_path=str(path) if path.exists() else None,
                )
            with contextlib.suppress(NotFound):
                container.stop(timeout=max(0, int(timeout)))
            with contextlib.suppress(NotFound):
                container.reload()
            info = self._info(container)
            text, path = self._save_logs(container, kernel_id)
            networks = list((container.attrs.get("NetworkSettings") or {}).get("Networks") or {})
            with contextlib.suppress(NotFound):
                container.remove(force=True)
            session_networks_remove_idle(self.client, networks, agent_id=self.config.agent_id)
            self._release(kernel_id)
            self._remove_config(kernel_id)
            if not self.config.keep_scratch_on_destroy:
                shutil.rmtree(self.scratch_dir(kernel_id), ignore_errors=True)
            log.info(
                "kernel destroyed",
                extra=self._log_extra(kernel_id, exit_code=info.exit_code, oom=info.oom_killed),
            )
            return info.model_copy(update={"logs": text, "log_path": str(path)})

    def ensure_kernel_network(self) -> None:
        """The shared bridge of single-kernel sessions (at start-up, not in the start path)."""
        kernel_network_ensure(self.client, self.config.kernel_network)

    def restart_kernel(self, kernel_id: str, timeout: float = 10.0) -> KernelInfo:
        """Restart the container in place (same ports, CPUs and scratch dir)."""
        with self._kernel_lock(kernel_id):
            container = self._get(kernel_id)
            container.restart(timeout=max(0, int(timeout)))
            container.reload()
            info = self._info(container)
            self._reserve(info)
            self._wait_ready(info, self._secret_of(container), container)
            log.info("kernel restarted", extra=self._log_extra(kernel_id))
            return info

    def get_kernel(self, kernel_id: str) -> KernelInfo:
        return self._info(self._get(kernel_id))

    def get_logs(self, kernel_id: str, tail: int | None = None) -> str:
        """The container's log; after destroy, the saved copy."""
        container = self._find(kernel_id)
        if container is None:
            path = self.log_path(kernel_id)
            if not path.exists():
                raise KernelNotFound(f"no container or saved log for kernel {kernel_id}")
            text = path.read_text(encoding="utf-8")
            if tail is None:
                return text
            return "".join(text.splitlines(keepends=True)[-tail:]) if tail > 0 else ""
        raw = container.logs(stdout=True, stderr=True, tail="all" if tail is None else tail)
        return str(raw.decode("utf-8", "replace"))

    def list_kernels(self) -> list[KernelInfo]:
        """All of this agent's labelled containers, running or not (for recovery)."""
        return [self._info(container) for container in self._containers()]

    def adopt(self) -> list[KernelInfo]:
        """Re-reserve ports and CPUs of this agent's existing containers (after a restart)."""
        infos = self.list_kernels()
        for info in infos:
            self._reserve(info)
        log.info("adopted kernels", extra={"agent_id": self.config.agent_id, "count": len(infos)})
        return infos

    def remove_orphans(self, known_ids: Iterable[str]) -> list[str]:
        """Remove this agent's labelled containers whose kernel id is not in `known_ids`."""
        known = set(known_ids)
        removed: list[str] = []
        for container in self._containers():
            kernel_id = container.labels.get(LABEL_KERNEL_ID, "")
            if kernel_id in known:
                continue
            with self._kernel_lock(kernel_id):
                self._save_logs(container, kernel_id)
                with contextlib.suppress(NotFound):
                    container.remove(force=True)
                self._release(kernel_id)
                self._remove_config(kernel_id)
            removed.append(kernel_id)
            log.warning("removed orphan kernel container", extra=self._log_extra(kernel_id))
        return removed

    # -- images and stats ---------------------------------------------------------------------

    def list_images(self) -> list[ImageInfo]:
        """Local images, one entry per tag (untagged images by id)."""
        return [
            _image_info(image, name)
            for image in self.client.images.list()
            for name in (image.tags or [str(image.id)])
        ]

    def pull_image(self, ref: str, auth: dict[str, str] | None = None) -> ImageInfo:
        """Pull from a registry (for agents that have one); returns the pulled image."""
        return _image_info(self.client.images.pull(ref, auth_config=auth), ref)

    def commit_kernel(
        self,
        kernel_id: str,
        *,
        repository: str,
        tag: str,
        task_id: str,
        labels: Mapping[str, str],
        progress: Callable[[int, str], None] | None = None,
    ) -> ImageInfo:
        """Save a running kernel and its /home/work as `repository:tag` (see runtime/commit.py)."""
        ref = f"{repository}:{tag}"
        with self._kernel_lock(kernel_id):
            existing = committed_image(self.client, ref, task_id)
            if existing is not None:  # a redelivered command: the image is already there
                return _image_info(existing, ref)
            image = container_commit(
                self.client,
                self._get(kernel_id),
                repository=repository,
                tag=tag,
                labels={**labels, LABEL_COMMIT_TASK_ID: task_id},
                workdir=CONTAINER_WORKDIR,
                progress=progress,
            )
        return _image_info(image, ref)

    def container_stats(self, kernel_id: str) -> ContainerStats:
        stats: dict[str, Any] = self._get(kernel_id).stats(stream=False)
        cpu, precpu = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
        total = (cpu.get("cpu_usage") or {}).get("total_usage", 0)
        pre_total = (precpu.get("cpu_usage") or {}).get("total_usage", 0)
        system_delta = cpu.get("system_cpu_usage", 0) - precpu.get("system_cpu_usage", 0)
        online = cpu.get("online_cpus") or len(
            (cpu.get("cpu_usage") or {}).get("percpu_usage") or [1]
        )
        percent = (total - pre_total) / system_delta * online * 100.0 if system_delta > 0 else 0.0
        memory = stats.get("memory_stats") or {}
        detail = memory.get("stats") or {}
        cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
        return ContainerStats(
            kernel_id=kernel_id,
            cpu_percent=round(max(percent, 0.0), 3),
            cpu_used_seconds=total / 1e9,
            memory_bytes=max(int(memory.get("usage", 0)) - int(cache), 0),
            memory_limit_bytes=memory.get("limit"),
            pids=(stats.get("pids_stats") or {}).get("current"),
        )

    # -- files (through the scratch dir mounted at /home/work) -------------------------------

    def _resolve(self, kernel_id: str, path: str) -> Path:
        root = self.scratch_dir(kernel_id).resolve()
        if not root.is_dir():
            raise KernelNotFound(f"kernel {kernel_id} has no scratch dir")
        relative = path
        if relative.startswith(CONTAINER_WORKDIR):
            relative = relative[len(CONTAINER_WORKDIR) :]
        target = (root / relative.lstrip("/")).resolve()
        if target != root and not target.is_relative_to(root):
            raise FileAccessError(f"{path!r} is outside {CONTAINER_WORKDIR}")
        return target

    def list_files(self, kernel_id: str, path: str = ".") -> list[FileEntry]:
        root = self.scratch_dir(kernel_id).resolve()
        folder = self._resolve(kernel_id, path)
        if not folder.is_dir():
            raise FileAccessError(f"{path!r} is not a directory")
        entries = []
        for child in sorted(folder.iterdir()):
            info = child.lstat()
            entries.append(
                FileEntry(
                    name=child.name,
                    path=str(child.relative_to(root)),
                    is_dir=stat.S_ISDIR(info.st_mode),
                    size=info.st_size,
                    mode=stat.filemode(info.st_mode),
                    modified_at=datetime.fromtimestamp(info.st_mtime, tz=UTC),
                )
            )
        return entries

    def upload_file(self, kernel_id: str, path: str, data: bytes) -> None:
        target = self._resolve(kernel_id, path)
        root = self.scratch_dir(kernel_id).resolve()
        created: list[Path] = []
        parent = target.parent
        while parent != root and not parent.exists():
            created.append(parent)
            parent = parent.parent
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if os.geteuid() == 0:
            for item in [*created, target]:
                os.chown(item, self.config.kernel_uid, self.config.kernel_gid)

    def download_file(self, kernel_id: str, path: str) -> bytes:
        target = self._resolve(kernel_id, path)
        if not target.is_file():
            raise FileAccessError(f"{path!r} is not a file")
        return target.read_bytes()

    def scratch_usage(self, kernel_id: str) -> int:
        """Bytes the kernel's scratch folder takes on disk (blocks, links not followed)."""
        total = 0
        pending = [self.scratch_dir(kernel_id)]
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    total += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
        return total

    def close(self) -> None:
        self.client.close()
