"""Compute plugins: the intrinsic `cpu` and `mem` slots and accelerators (a mock one for tests).

A plugin declares its slots and their capacity, allocates amounts of them to a kernel, restores
allocations of adopted kernels, and says what a container needs (environment, device args).
Imports nothing of Django's ORM: the agent daemon uses it.
"""

from __future__ import annotations

from .base import (
    AcceleratorPlugin,
    Allocation,
    ContainerArgs,
    InsufficientResource,
    PluginSet,
)
from .intrinsic import CpuPlugin, MemoryPlugin
from .mock import MockCudaPlugin

__all__ = [
    "AcceleratorPlugin",
    "Allocation",
    "ContainerArgs",
    "CpuPlugin",
    "InsufficientResource",
    "MemoryPlugin",
    "MockCudaPlugin",
    "PluginSet",
]
