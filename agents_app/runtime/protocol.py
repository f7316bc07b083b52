"""The runtime protocol the agent daemon codes against (DockerRuntime implements it).

Its models (`models.py`) and errors (`errors.py`) are the agent side's only names for a kernel,
its launch spec, its state and its failures; tests may pass any object that satisfies it.
Every method is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from .models import ContainerStats, FileEntry, ImageInfo, KernelInfo, KernelSpec


class Runtime(Protocol):
    def create_kernel(self, spec: KernelSpec) -> KernelInfo: ...

    def bind_kernel(
        self, kernel_id: str, *, session_id: str, environ: dict[str, str]
    ) -> KernelInfo: ...

    def destroy_kernel(self, kernel_id: str, timeout: float = 10.0) -> KernelInfo: ...

    def restart_kernel(self, kernel_id: str, timeout: float = 10.0) -> KernelInfo: ...

    def get_kernel(self, kernel_id: str) -> KernelInfo: ...

    def get_logs(self, kernel_id: str, tail: int | None = None) -> str: ...

    def list_kernels(self) -> list[KernelInfo]: ...

    def adopt(self) -> list[KernelInfo]: ...

    def remove_orphans(self, known_ids: Iterable[str]) -> list[str]: ...

    def list_images(self) -> list[ImageInfo]: ...

    def pull_image(self, ref: str, auth: dict[str, str] | None = None) -> ImageInfo: ...

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
        """Save a running kernel as the local image `repository:tag` (idempotent per
        `task_id`: a second call returns the image the first made)."""
        ...

    def container_stats(self, kernel_id: str) -> ContainerStats: ...

    def list_files(self, kernel_id: str, path: str = ".") -> list[FileEntry]: ...

    def upload_file(self, kernel_id: str, path: str, data: bytes) -> None: ...

    def download_file(self, kernel_id: str, path: str) -> bytes: ...

    def scratch_usage(self, kernel_id: str) -> int: ...

    def close(self) -> None: ...
