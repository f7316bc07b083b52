"""Container runtime for the agent: the only package that imports the `docker` SDK.

Runs inside the agent daemon, which never opens the database: nothing here imports Django.
See docs/design/0001-kernel-runner.md and 0005-agent-runtime.md. The package exports the
runtime's vocabulary (protocol, models, errors, pools); the Docker implementation is imported
from `agents_app.runtime.docker_runtime` by whoever runs kernels, so that importing the
vocabulary (the web role, the runner client) loads no Docker SDK.
"""

from __future__ import annotations

from .errors import (
    CommitFailed,
    FileAccessError,
    ImageNotFound,
    KernelBootstrapFailed,
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

__all__ = [
    "CommitFailed",
    "ContainerStats",
    "CpuPool",
    "FileAccessError",
    "FileEntry",
    "ImageInfo",
    "ImageNotFound",
    "KernelBootstrapFailed",
    "KernelCreationFailed",
    "KernelInfo",
    "KernelNotFound",
    "KernelSpec",
    "KernelStatus",
    "Mount",
    "PoolExhausted",
    "PortPool",
    "RunnerAuthFailed",
    "RunnerRequestError",
    "RunnerUnavailable",
    "Runtime",
    "RuntimeBackendError",
    "ServicePort",
    "format_service_ports_label",
    "parse_service_ports_label",
]
