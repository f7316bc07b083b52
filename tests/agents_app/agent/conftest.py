"""An in-memory Runtime and a recording event sender for daemon tests (no Docker, no DB).

The real Docker runtime is exercised by tests/integration; these tests pin the daemon's own
logic: idempotency, events, recovery and allocation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from agents_app.agent.config import AgentConfig, MockAcceleratorConfig
from agents_app.agent.daemon import AgentDaemon
from tests.helpers.agent_daemon import InMemoryBackend, RecordingReplier, RecordingSender


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
    return AgentDaemon(config=agent_config, runtime=backend, sender=sender, replier=replier)
