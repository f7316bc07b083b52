"""In-memory stand-ins for the agent daemon's runtime, event sender and command replier."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from agents_app.runtime.errors import KernelNotFound
from agents_app.runtime.models import (
    ContainerStats,
    FileEntry,
    ImageInfo,
    KernelInfo,
    KernelSpec,
    KernelStatus,
)
from agents_app.schemas import CommandReply, Message


class InMemoryBackend:
    """Satisfies `agents_app.runtime.protocol.Runtime` with plain dicts."""

    def __init__(self) -> None:
        self.containers: dict[str, KernelInfo] = {}
        self.launches: list[KernelSpec] = []
        self.fail_next: Exception | None = None
        self.closed = False
        self.scratch_bytes: dict[str, int] = {}
        self.images: dict[str, ImageInfo] = {}  # made by commit_kernel, by ref
        self.bound_environ: dict[str, dict[str, str]] = {}  # given by bind_kernel, by kernel

    def create_kernel(self, spec: KernelSpec) -> KernelInfo:
        if spec.kernel_id in self.containers:
            return self.containers[spec.kernel_id]
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.launches.append(spec)
        info = KernelInfo(
            kernel_id=spec.kernel_id,
            container_id=f"c-{spec.kernel_id}",
            status=KernelStatus.RUNNING,
            session_id=spec.session_id,
            host_ports={"runner": 30001},
            runner_port=30001,
            labels=dict(spec.labels),
            cpu_set=list(range(spec.cpu_count)),
            memory_bytes=spec.memory_bytes,
        )
        self.containers[spec.kernel_id] = info
        return info

    def bind_kernel(
        self, kernel_id: str, *, session_id: str, environ: dict[str, str]
    ) -> KernelInfo:
        info = self.get_kernel(kernel_id).model_copy(update={"session_id": session_id})
        self.bound_environ[kernel_id] = dict(environ)
        self.containers[kernel_id] = info
        return info

    def destroy_kernel(self, kernel_id: str, timeout: float = 10.0) -> KernelInfo:
        info = self.containers.pop(kernel_id, None)
        if info is None:
            return KernelInfo(kernel_id=kernel_id, status=KernelStatus.GONE)
        exit_code = info.exit_code if info.exit_code is not None else 0
        return info.model_copy(update={"status": KernelStatus.EXITED, "exit_code": exit_code})

    def restart_kernel(self, kernel_id: str, timeout: float = 10.0) -> KernelInfo:
        info = self.get_kernel(kernel_id)
        self.containers[kernel_id] = info.model_copy(update={"status": KernelStatus.RUNNING})
        return self.containers[kernel_id]

    def get_kernel(self, kernel_id: str) -> KernelInfo:
        try:
            return self.containers[kernel_id]
        except KeyError:
            raise KernelNotFound(kernel_id) from None

    def get_logs(self, kernel_id: str, tail: int | None = None) -> str:
        self.get_kernel(kernel_id)
        return "hello\n"

    def list_kernels(self) -> list[KernelInfo]:
        return list(self.containers.values())

    def adopt(self) -> list[KernelInfo]:
        return list(self.containers.values())

    def remove_orphans(self, known_ids: Iterable[str]) -> list[str]:
        orphans = [k for k in self.containers if k not in set(known_ids)]
        for kernel_id in orphans:
            del self.containers[kernel_id]
        return orphans

    def list_images(self) -> list[ImageInfo]:
        ref = "backendai/python:3.11-debian"
        labels = {"ai.backend.kernelspec": "1"}
        base = ImageInfo(id="sha256:local", name=ref, tags=[ref], labels=labels)
        return [base, *self.images.values()]

    def pull_image(self, ref: str, auth: dict[str, str] | None = None) -> ImageInfo:
        return ImageInfo(id="sha256:local", name=ref, tags=[ref], digest="sha256:pulled")

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
        self.get_kernel(kernel_id)
        ref = f"{repository}:{tag}"
        if ref in self.images:
            return self.images[ref]
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        for step, message in enumerate(("commit", "copy", "write")):
            if progress is not None:
                progress(step, message)
        labels = {"ai.backend.kernelspec": "1", **labels, "ai.backend.commit.task-id": task_id}
        self.images[ref] = ImageInfo(id=f"sha256:{task_id}", name=ref, tags=[ref], labels=labels)
        return self.images[ref]

    def container_stats(self, kernel_id: str) -> ContainerStats:
        self.get_kernel(kernel_id)
        return ContainerStats(
            kernel_id=kernel_id, cpu_percent=0.0, cpu_used_seconds=0.0, memory_bytes=1024
        )

    def list_files(self, kernel_id: str, path: str = ".") -> list[FileEntry]:
        self.get_kernel(kernel_id)
        return [
            FileEntry(
                name="a.txt",
                path="a.txt",
                is_dir=False,
                size=1,
                mode="-rw-r--r--",
                modified_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        ]

    def upload_file(self, kernel_id: str, path: str, data: bytes) -> None:
        self.get_kernel(kernel_id)

    def download_file(self, kernel_id: str, path: str) -> bytes:
        self.get_kernel(kernel_id)
        return b"a"

    def scratch_usage(self, kernel_id: str) -> int:
        return self.scratch_bytes.get(kernel_id, 0)

    def close(self) -> None:
        self.closed = True

    # test helpers ------------------------------------------------------------------------------
    def kill(self, kernel_id: str, *, exit_code: int, oom: bool = False) -> None:
        self.containers[kernel_id] = self.containers[kernel_id].model_copy(
            update={"status": KernelStatus.EXITED, "exit_code": exit_code, "oom_killed": oom}
        )


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, event: str, payload: Message | dict[str, Any]) -> None:
        self.sent.append((event, payload))

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def of(self, event: str) -> list[Any]:
        return [payload for name, payload in self.sent if name == event]


class RecordingReplier:
    def __init__(self) -> None:
        self.replies: dict[str, CommandReply] = {}

    def reply(self, reply_to: str, reply: CommandReply) -> None:
        self.replies[reply_to] = reply
