"""An in-memory KernelBackend and a recording event sender for daemon tests (no Docker, no DB).

The real Docker runtime is exercised by tests/integration; these tests pin the daemon's own
logic: idempotency, events, recovery and allocation.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from agents_app.agent.backend import KernelLaunch, KernelNotFound, KernelState
from agents_app.agent.config import AgentConfig, MockAcceleratorConfig
from agents_app.agent.daemon import AgentDaemon
from agents_app.schemas import CommandReply, KernelStat, LocalImage, Message, PublishedPort


class InMemoryBackend:
    def __init__(self) -> None:
        self.containers: dict[str, KernelState] = {}
        self.launches: list[KernelLaunch] = []
        self.fail_next: Exception | None = None
        self.closed = False

    def create(self, launch: KernelLaunch) -> KernelState:
        if launch.kernel_id in self.containers:
            return self.containers[launch.kernel_id]
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.launches.append(launch)
        state = KernelState(
            kernel_id=launch.kernel_id,
            container_id=f"c-{launch.kernel_id}",
            running=True,
            session_id=launch.session_id,
            ports=[
                PublishedPort(name="runner", protocol="tcp", container_port=2000, host_port=30001)
            ],
            labels=dict(launch.labels),
            cpu_ids=list(range(launch.cpu_count)),
            mem_bytes=launch.mem_bytes,
        )
        self.containers[launch.kernel_id] = state
        return state

    def destroy(self, kernel_id: str, timeout: float) -> KernelState:
        state = self.containers.pop(kernel_id, None)
        if state is None:
            raise KernelNotFound(kernel_id)
        return replace(
            state, running=False, exit_code=state.exit_code if state.exit_code is not None else 0
        )

    def restart(self, kernel_id: str) -> KernelState:
        if kernel_id not in self.containers:
            raise KernelNotFound(kernel_id)
        self.containers[kernel_id] = replace(self.containers[kernel_id], running=True)
        return self.containers[kernel_id]

    def state(self, kernel_id: str) -> KernelState:
        try:
            return self.containers[kernel_id]
        except KeyError:
            raise KernelNotFound(kernel_id) from None

    def adopt(self) -> list[KernelState]:
        return list(self.containers.values())

    def kernels(self) -> list[KernelState]:
        return list(self.containers.values())

    def stats(self) -> list[KernelStat]:
        return [
            KernelStat(kernel_id=k, container_id=s.container_id, status="running", mem_bytes=1024)
            for k, s in self.containers.items()
            if s.running
        ]

    def logs(self, kernel_id: str, tail: int | None = None) -> str:
        self.state(kernel_id)
        return "hello\n"

    def list_files(self, kernel_id: str, path: str) -> list[dict[str, Any]]:
        self.state(kernel_id)
        return [{"name": "a.txt", "size": 1}]

    def local_images(self) -> list[LocalImage]:
        return [
            LocalImage(ref="backendai/python:3.11-debian", labels={"ai.backend.kernelspec": "1"})
        ]

    def pull(self, ref: str, username: str = "", password: str = "") -> str:
        return "sha256:pulled"

    def close(self) -> None:
        self.closed = True

    # test helpers ------------------------------------------------------------------------------
    def kill(self, kernel_id: str, *, exit_code: int, oom: bool = False) -> None:
        self.containers[kernel_id] = replace(
            self.containers[kernel_id], running=False, exit_code=exit_code, oom_killed=oom
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


@pytest.fixture
def agent_config(tmp_path: Any) -> AgentConfig:
    return AgentConfig(
        id="i-test",
        cpu_ids=[0],
        capacity={"cpu": "2", "mem": "2g"},
        scratch_root=tmp_path,
        mock_accelerator=MockAcceleratorConfig(devices=2, shares_per_device=Decimal(1)),
    )


@pytest.fixture
def backend() -> InMemoryBackend:
    return InMemoryBackend()


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def replier() -> RecordingReplier:
    return RecordingReplier()


@pytest.fixture
def daemon(
    agent_config: AgentConfig,
    backend: InMemoryBackend,
    sender: RecordingSender,
    replier: RecordingReplier,
) -> AgentDaemon:
    return AgentDaemon(config=agent_config, backend=backend, sender=sender, replier=replier)
