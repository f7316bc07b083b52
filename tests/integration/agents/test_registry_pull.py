"""An agent pulls a kernel image through a real loopback registry (Docker Registry HTTP API v2)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from agents_app.agent.config import AgentConfig
from agents_app.agent.daemon import AgentDaemon
from agents_app.agent.runner import docker_runtime
from agents_app.schemas import ImagePullResult, Message
from tests.helpers.registry import LoopbackRegistry, docker, import_labelled_image

pytestmark = pytest.mark.docker


class EventLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, Message | dict[str, Any]]] = []

    def send(self, event: str, payload: Message | dict[str, Any]) -> None:
        self.events.append((event, payload))


def image_exists(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode == 0


class TestAgentPullsThroughRegistry:
    def test_pull_image_command_fetches_the_image(
        self, loopback_registry: LoopbackRegistry, tmp_path: Path
    ) -> None:
        ref = f"{loopback_registry.host}/bai/pulled:1.0"
        import_labelled_image(ref, {"ai.backend.kernelspec": "1"})
        docker("push", ref)
        docker("rmi", ref)
        events = EventLog()
        config = AgentConfig(id="i-puller", scratch_root=tmp_path, capacity={"mem": "1g"})
        daemon = AgentDaemon(config=config, runtime=docker_runtime(config), sender=events)

        try:
            daemon.handle("pull_image", {"ref": ref})
            pulled = image_exists(ref)
        finally:
            subprocess.run(["docker", "rmi", ref], capture_output=True)

        (name, result), *_ = events.events
        assert name == "image_pulled"
        assert isinstance(result, ImagePullResult) and result.ok, result
        assert result.digest.startswith("sha256:")
        assert pulled

    def test_unknown_image_reports_a_failed_pull(
        self, loopback_registry: LoopbackRegistry, tmp_path: Path
    ) -> None:
        events = EventLog()
        config = AgentConfig(id="i-puller2", scratch_root=tmp_path, capacity={"mem": "1g"})
        daemon = AgentDaemon(config=config, runtime=docker_runtime(config), sender=events)

        daemon.handle("pull_image", {"ref": f"{loopback_registry.host}/bai/missing:0"})

        (name, result), *_ = events.events
        assert name == "image_pulled"
        assert isinstance(result, ImagePullResult) and not result.ok and result.error
