"""Scheduler fixtures: a resource group with agents, owners, and a pass runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agents_app.models import ResourceGroup
from backendai_site.common.redis import get_redis
from sessions_app.scheduler.runner import PassReport, schedule_resource_group
from tests.factories.sessions import KeyPairFactory
from tests.helpers.scheduler import make_group


@pytest.fixture(autouse=True)
def _forget_scheduler_state() -> Iterator[None]:
    client = get_redis()
    for key in client.scan_iter("bai:sched:*"):
        client.delete(key)
    yield


@pytest.fixture
def group(db: None) -> ResourceGroup:
    return make_group(agent_selection_strategy="dispersed")


@pytest.fixture
def run_pass() -> Callable[[ResourceGroup], PassReport]:
    def run(group: ResourceGroup, **kwargs: Any) -> PassReport:
        return schedule_resource_group(group.pk, **kwargs)

    return run


@pytest.fixture
def owner(db: None) -> Any:
    return KeyPairFactory()
