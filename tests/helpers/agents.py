"""Types of the agents app's test fixtures."""

from __future__ import annotations

from collections.abc import Callable

from agents_app.schemas import AgentHeartbeat

HeartbeatMaker = Callable[..., AgentHeartbeat]
