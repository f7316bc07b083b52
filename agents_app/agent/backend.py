"""What the daemon needs from a container runtime, in the daemon's own terms.

`docker_backend.DockerBackend` adapts helper-1's `agents_app.runtime.DockerRuntime` to this
protocol; tests may pass any object that satisfies it. Every method is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from agents_app.schemas import KernelStat, LocalImage, PublishedPort

ALLOCATIONS_LABEL = "ai.backend.agent.allocations"


class KernelNotFound(LookupError):
    """The runtime has no container for this kernel id."""


@dataclass(frozen=True, slots=True)
class KernelLaunch:
    kernel_id: str
    session_id: str
    owner_access_key: str
    image: str
    cpu_count: int
    mem_bytes: int
    environ: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    kernel_secret: str = ""
    bootstrap_script: str = ""
    startup_command: str = ""
    mounts: list[dict[str, Any]] = field(default_factory=list)
    cluster_hostname: str = "main1"
    network: str | None = None


@dataclass(frozen=True, slots=True)
class KernelState:
    kernel_id: str
    container_id: str
    running: bool
    session_id: str = ""
    exit_code: int | None = None
    oom_killed: bool = False
    ports: list[PublishedPort] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    cpu_ids: list[int] = field(default_factory=list)
    mem_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class KernelBackend(Protocol):
    def create(self, launch: KernelLaunch) -> KernelState:
        """Start the kernel, or return the existing one when it already exists."""
        ...

    def destroy(self, kernel_id: str, timeout: float) -> KernelState:
        """Stop (keeping the log) and remove; raises KernelNotFound when there is nothing."""
        ...

    def restart(self, kernel_id: str) -> KernelState: ...

    def state(self, kernel_id: str) -> KernelState:
        """Current state (raises KernelNotFound)."""
        ...

    def adopt(self) -> list[KernelState]:
        """This agent's labelled containers, running or dead, re-registered in the pools."""
        ...

    def kernels(self) -> list[KernelState]: ...

    def stats(self) -> list[KernelStat]: ...

    def logs(self, kernel_id: str, tail: int | None = None) -> str: ...

    def list_files(self, kernel_id: str, path: str) -> list[dict[str, Any]]: ...

    def local_images(self) -> list[LocalImage]: ...

    def pull(self, ref: str, username: str = "", password: str = "") -> str:
        """Pull `ref`; returns its digest."""
        ...

    def close(self) -> None: ...


def decimal_to_int(value: Decimal) -> int:
    return int(value.to_integral_value())
