"""Container runtime for the agent: the only package that imports the `docker` SDK.

Runs inside the agent daemon, which never opens the database: nothing here imports Django.
See docs/design/0001-kernel-runner.md.
"""

from __future__ import annotations

from .docker_runtime import DockerRuntime, DockerRuntimeConfig
from .errors import (
    FileAccessError,
    ImageNotFound,
    KernelCreationFailed,
    KernelNotFound,
    PoolExhausted,
    RunnerAuthFailed,
    RunnerRequestError,
    RunnerUnavailable,
    RuntimeBackendError,
)
from .models import (
    ContainerStats,
    FileEntry,
    ImageInfo,
    KernelInfo,
    KernelSpec,
    KernelStatus,
    Mount,
    ServicePort,
    format_service_ports_label,
    parse_service_ports_label,
)
from .pools import CpuPool, PortPool
from .protocol import Runtime
from .runner_client import ExecResult, PtyHandle, RunnerClient, wait_runner_ready

__all__ = [
    "ContainerStats",
    "CpuPool",
    "DockerRuntime",
    "DockerRuntimeConfig",
    "ExecResult",
    "FileAccessError",
    "FileEntry",
    "ImageInfo",
    "ImageNotFound",
    "KernelCreationFailed",
    "KernelInfo",
    "KernelNotFound",
    "KernelSpec",
    "KernelStatus",
    "Mount",
    "PoolExhausted",
    "PortPool",
    "PtyHandle",
    "RunnerAuthFailed",
    "RunnerClient",
    "RunnerRequestError",
    "RunnerUnavailable",
    "Runtime",
    "RuntimeBackendError",
    "ServicePort",
    "format_service_ports_label",
    "parse_service_ports_label",
    "wait_runner_ready",
]
