"""Loaded into the real manager worker with `celery worker --include` by the two-agent test:
records every dispatched agent event as JSON in a Redis list the test reads."""

from __future__ import annotations

import json
import os
from typing import Any

import redis

from agents_app import events
from tests.integration.agents.probe_names import PROBE_KEY

_client = redis.Redis.from_url(os.environ["REDIS_URL"])


def _record(name: str) -> Any:
    def handler(payload: Any) -> None:
        _client.rpush(PROBE_KEY, json.dumps({"event": name, **payload.model_dump(mode="json")}))

    return handler


for _name in events.EVENT_MODELS:
    events.subscribe(_name, _record(_name))  # type: ignore[arg-type]

# This test creates kernels straight through agent queues, with no session rows: tell the
# reconciliation that the manager knows every kernel, so a restarted agent keeps them.
events.set_kernel_ownership_resolver(lambda agent_id, kernel_ids: [])
