"""Pydantic models the runtime takes and returns (plain data, JSON-dumpable for Celery)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

LABEL_KERNEL_ID = "ai.backend.kernel-id"
LABEL_SESSION_ID = "ai.backend.session-id"
LABEL_OWNER_ACCESS_KEY = "ai.backend.owner-access-key"
LABEL_AGENT_ID = "ai.backend.agent-id"
LABEL_SERVICE_PORTS = "ai.backend.service-ports"
LABEL_RUNTIME_PATH = "ai.backend.runtime-path"
LABEL_RUNNER_PORT = "ai.backend.runner-port"
LABEL_CLUSTER_HOSTNAME = "ai.backend.cluster-hostname"
LABEL_ALLOCATIONS = "ai.backend.agent.allocations"  # the agent's accelerator allocations (JSON)
LABEL_COMMIT_TASK_ID = "ai.backend.commit.task-id"  # on images made by commit_kernel
LABEL_COMMIT_WORKDIR = "ai.backend.commit.workdir"  # where such an image keeps its /home/work
LABEL_POOL_ID = "ai.backend.pool-id"  # on containers a warm pool keeps ready (0007-warm-pools)
COMMIT_STEPS = 3  # commit_kernel's progress steps: commit, copy /home/work, write the image

RUNNER_SERVICE_NAME = "runner"
BOOTSTRAP_FAILED_EXIT_CODE = 3  # the runner's exit code when the bootstrap script failed

_rx_service_port = re.compile(r"(?P<name>[\w-]+):(?P<proto>\w+):(?P<ports>\[\d+(?:,\d+)*\]|\d+)")


class KernelStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    RESTARTING = "restarting"
    PAUSED = "paused"
    EXITED = "exited"
    DEAD = "dead"
    REMOVING = "removing"
    GONE = "gone"  # no container (never created, or destroyed)

    @classmethod
    def from_docker(cls, state: str) -> KernelStatus:
        try:
            return cls(state)
        except ValueError:
            return cls.DEAD


class Mount(BaseModel):
    model_config = ConfigDict(frozen=True)

    host_path: str
    container_path: str
    read_only: bool = False


# A kernel's dotfiles travel in its environment under this name (a JSON list of KernelDotfile)
# from the session's create to the runtime, which takes them out before the container starts
# (KernelSpec below) and writes them into the home folder: design note 0012.
DOTFILES_ENVIRON_KEY = "BAI_DOTFILES"
_rx_control = re.compile(r"[\x00-\x1f\x7f]")


class KernelDotfile(BaseModel):
    """One file for the kernel's home: `path` relative to /home/work, `mode` its permission."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(min_length=1, max_length=255)
    data: str
    mode: int = Field(ge=0, le=0o777)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = value.split("/")
        if value.startswith("/") or _rx_control.search(value) or {"", ".", ".."} & set(parts):
            raise ValueError("a dotfile path is relative, without '', '.' or '..' components")
        return value


_DOTFILES = TypeAdapter(list[KernelDotfile])


def dotfiles_environ_value(dotfiles: list[KernelDotfile]) -> str:
    return _DOTFILES.dump_json(dotfiles).decode()


def dotfiles_from_environ_value(raw: str) -> list[KernelDotfile]:
    return _DOTFILES.validate_json(raw)


class ServicePort(BaseModel):
    """One service app: Backend.AI's `name:protocol:port` (protocol tcp, http, pty, preopen)."""

    model_config = ConfigDict(frozen=True)

    name: str
    protocol: str = "tcp"
    container_ports: list[int]
    command: list[str] | None = None  # started by the runner; `{port}` is substituted

    @property
    def runner_served(self) -> bool:
        """The runner serves it itself (a `pty` service without a command: the terminal), on
        demand through its authenticated channel, so no port of it is opened or published."""
        return self.protocol == "pty" and not self.command


def parse_service_ports_label(label: str | None) -> list[ServicePort]:
    """Parse `ai.backend.service-ports`, e.g. `terminal:pty:7681,jupyter:http:[8080,8081]`."""
    items: list[ServicePort] = []
    text = (label or "").strip()
    while text:
        match = _rx_service_port.match(text)
        if match is None:
            raise ValueError(f"invalid service-ports label near {text!r}")
        ports = [int(p) for p in match.group("ports").strip("[]").split(",")]
        items.append(
            ServicePort(
                name=match.group("name"), protocol=match.group("proto"), container_ports=ports
            )
        )
        text = text[match.end() :].lstrip(",").strip()
    return items


def format_service_ports_label(ports: list[ServicePort]) -> str:
    parts = []
    for sp in ports:
        value = (
            str(sp.container_ports[0])
            if len(sp.container_ports) == 1
            else "[" + ",".join(map(str, sp.container_ports)) + "]"
        )
        parts.append(f"{sp.name}:{sp.protocol}:{value}")
    return ",".join(parts)


class KernelSpec(BaseModel):
    """What to run. `cpu_set` pins exact CPU ids; when empty, `cpu_count` ids come from the pool."""

    kernel_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    session_id: str
    owner_access_key: str
    agent_id: str
    image: str
    cpu_set: list[int] = Field(default_factory=list)
    cpu_count: int = Field(default=1, ge=1)
    memory_bytes: int = Field(ge=6 * 1024 * 1024)  # memory limit; swap is set equal (no swap)
    pids_limit: int = Field(default=4096, ge=16)
    environ: dict[str, str] = Field(default_factory=dict)
    mounts: list[Mount] = Field(default_factory=list)
    service_ports: list[ServicePort] | None = None  # None: take the image's label
    runner_secret: str = Field(min_length=16)
    cluster_hostname: str = "main1"
    network: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    # Run by the runner (`/bin/sh`, in /home/work) before it accepts connections, on every
    # container start; its output goes to the container log, and a failure fails the create.
    bootstrap_script: str = ""
    # The session's startup command. Batch sessions: the manager runs it through the runner once
    # the session is RUNNING; the container carries it as BACKENDAI_STARTUP_COMMAND.
    startup_command: str = ""
    # Written into the home folder before the container starts (so before the bootstrap
    # script), owned by the kernel's user; taken out of `environ` when carried there.
    dotfiles: list[KernelDotfile] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dotfiles_out_of_environ(self) -> Self:
        carried = self.environ.pop(DOTFILES_ENVIRON_KEY, None)
        if carried is not None and not self.dotfiles:
            self.dotfiles = dotfiles_from_environ_value(carried)
        return self

    @field_validator("cpu_set")
    @classmethod
    def _unique_cpus(cls, value: list[int]) -> list[int]:
        return sorted(set(value))


class KernelInfo(BaseModel):
    kernel_id: str
    session_id: str = ""
    agent_id: str = ""
    owner_access_key: str = ""
    container_id: str | None = None
    container_name: str | None = None
    image: str = ""
    status: KernelStatus
    host: str = "127.0.0.1"  # advertised address of the published ports
    host_ports: dict[str, int] = Field(default_factory=dict)  # {"runner": .., service name: ..}
    runner_port: int | None = None  # host port of the runner
    service_ports: list[ServicePort] = Field(default_factory=list)
    cpu_set: list[int] = Field(default_factory=list)
    memory_bytes: int | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    log_path: str | None = None  # set by destroy: where the container log was saved
    logs: str | None = None  # set by destroy: the container log text

    @property
    def running(self) -> bool:
        return self.status == KernelStatus.RUNNING


class ImageInfo(BaseModel):
    id: str
    name: str  # repository:tag, or the id when untagged
    tags: list[str] = Field(default_factory=list)
    digest: str | None = None  # repo digest when pulled from a registry, else the image id
    size_bytes: int = 0
    labels: dict[str, str] = Field(default_factory=dict)


class ContainerStats(BaseModel):
    kernel_id: str
    cpu_percent: float  # 100.0 = one CPU fully used
    cpu_used_seconds: float
    memory_bytes: int
    memory_limit_bytes: int | None = None
    pids: int | None = None


class FileEntry(BaseModel):
    name: str
    path: str  # relative to /home/work
    is_dir: bool
    size: int
    mode: str
    modified_at: datetime
