"""The agent daemon's metrics: capacity and use per slot, pools, container creates, and the
loopback HTTP server that serves them (no Docker, no database: an in-memory runtime)."""

from __future__ import annotations

import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents_app.agent.config import AgentConfig, MockAcceleratorConfig
from agents_app.agent.daemon import AgentDaemon
from agents_app.runtime.errors import KernelBootstrapFailed
from backendai_site.metrics.agent import agent_metrics_serve
from tests.helpers.agent_daemon import InMemoryBackend, RecordingReplier, RecordingSender
from tests.helpers.net import free_port

GIB = 1 << 30


@pytest.fixture
def backend() -> InMemoryBackend:
    return InMemoryBackend()


@pytest.fixture
def daemon(tmp_path: Path, backend: InMemoryBackend) -> AgentDaemon:
    config = AgentConfig(
        id="i-metrics",
        cpu_ids=[0],
        capacity={"cpu": "4", "mem": "4g"},
        scratch_root=tmp_path,
        concurrency=3,
        mock_accelerator=MockAcceleratorConfig(devices=2, shares_per_device=Decimal(1)),
    )
    return AgentDaemon(
        config=config, runtime=backend, sender=RecordingSender(), replier=RecordingReplier()
    )


def create(daemon: AgentDaemon, kernel_id: str, **resources: str) -> None:
    daemon.handle(
        "create_kernel",
        {"kernel_id": kernel_id, "session_id": "s1", "image": "backendai/python:3.11-debian",
         "resources": resources},
    )  # fmt: skip


def value(daemon: AgentDaemon, name: str, **labels: str) -> float | None:
    return daemon.metrics.registry.get_sample_value(name, {"agent": "i-metrics", **labels})


def test_capacity_and_use_per_slot_follow_the_kernels(daemon: AgentDaemon) -> None:
    assert value(daemon, "bai_agent_slot_capacity", slot="cpu") == 4
    assert value(daemon, "bai_agent_slot_capacity", slot="mem") == 4 * GIB
    assert value(daemon, "bai_agent_slot_capacity", slot="cuda.device") == 2
    assert value(daemon, "bai_agent_slot_used", slot="cpu") == 0

    create(daemon, "k1", cpu="1", mem=str(GIB), **{"cuda.device": "1"})
    create(daemon, "k2", cpu="2", mem=str(GIB))

    assert value(daemon, "bai_agent_slot_used", slot="cpu") == 3
    assert value(daemon, "bai_agent_slot_used", slot="mem") == 2 * GIB
    assert value(daemon, "bai_agent_slot_used", slot="cuda.device") == 1
    assert value(daemon, "bai_agent_pool_size", pool="kernels") == 2
    assert value(daemon, "bai_agent_pool_size", pool="command_threads") == 3

    daemon.handle("destroy_kernel", {"kernel_id": "k2", "session_id": "s1", "reason": "test"})
    assert value(daemon, "bai_agent_slot_used", slot="cpu") == 1
    assert value(daemon, "bai_agent_pool_size", pool="kernels") == 1


def test_creates_are_counted_and_timed(daemon: AgentDaemon, backend: InMemoryBackend) -> None:
    create(daemon, "k1", cpu="1", mem=str(GIB))
    create(daemon, "k1", cpu="1", mem=str(GIB))  # redelivered: no second create
    backend.fail_next = KernelBootstrapFailed("bootstrap exited 1")
    create(daemon, "k2", cpu="1", mem=str(GIB))
    create(daemon, "k3", cpu="99", mem=str(GIB))  # refused by the allocator

    assert value(daemon, "bai_agent_container_creates_total", outcome="created") == 1
    assert value(daemon, "bai_agent_container_creates_total", outcome="failed") == 2
    assert value(daemon, "bai_agent_container_create_duration_seconds_count") == 3
    assert value(daemon, "bai_agent_container_create_duration_seconds_bucket", le="+Inf") == 3
    assert value(daemon, "bai_agent_container_create_duration_seconds_bucket", le="5.0") == 3


def test_served_on_loopback(daemon: AgentDaemon) -> None:
    create(daemon, "k1", cpu="1", mem=str(GIB))
    port = free_port()
    server = agent_metrics_serve(daemon.metrics, port=port)
    try:
        assert server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    used = {s.labels["slot"]: s.value for s in families["bai_agent_slot_used"].samples}
    assert used["cpu"] == 1
    creates = families["bai_agent_container_creates"]
    assert creates.type == "counter"
    assert families["bai_agent_container_create_duration_seconds"].type == "histogram"


def test_metrics_port_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAI_AGENT_METRICS_PORT", "9464")
    assert AgentConfig(scratch_root=tmp_path).metrics_port == 9464
    monkeypatch.setenv("BAI_AGENT_METRICS_PORT", "0")
    with pytest.raises(ValueError):
        AgentConfig(scratch_root=tmp_path)
