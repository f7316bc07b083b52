"""Scenarios for the agents app tests."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from agents_app import events
from agents_app.enums import SlotType
from agents_app.schemas import AgentHeartbeat, LocalImage, SlotCapacity
from tests.helpers.agents import HeartbeatMaker


@pytest.fixture
def make_heartbeat() -> HeartbeatMaker:
    """An AgentHeartbeat with 4 CPUs and 8 GiB unless told otherwise."""

    def make(agent_id: str = "i-node1", **overrides: Any) -> AgentHeartbeat:
        fields: dict[str, Any] = {
            "agent_id": agent_id,
            "boot_id": "boot-1",
            "resource_group": "default",
            "advertised_host": "127.0.0.1",
            "architecture": "x86_64",
            "version": "0.1.0",
            "slots": [
                SlotCapacity(slot_name="cpu", slot_type=SlotType.COUNT, capacity=Decimal(4)),
                SlotCapacity(slot_name="mem", slot_type=SlotType.BYTES, capacity=Decimal(8 << 30)),
            ],
            "images": [
                LocalImage(
                    ref="backendai/python:3.11-debian",
                    digest="sha256:abc",
                    labels={
                        "ai.backend.kernelspec": "1",
                        "ai.backend.service-ports": "ttyd:http:7681,web:http:8080",
                        "ai.backend.resource.min.cpu": "1",
                        "ai.backend.resource.min.mem": "256m",
                    },
                )
            ],
        }
        fields.update(overrides)
        return AgentHeartbeat(**fields)

    return make


@pytest.fixture
def recorded_events() -> Iterator[list[tuple[str, Any]]]:
    """Subscribe to every event for the test's duration; yields what was dispatched."""
    seen: list[tuple[str, Any]] = []
    handlers = []
    for name in events.EVENT_MODELS:

        def handler(payload: Any, name: str = name) -> None:
            seen.append((name, payload))

        events.subscribe(name, handler)  # type: ignore[arg-type]
        handlers.append((name, handler))
    yield seen
    for name, handler in handlers:
        events.unsubscribe(name, handler)  # type: ignore[arg-type]
