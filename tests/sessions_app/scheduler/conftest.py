"""Scheduler fixtures: a resource group with agents, owners, and a pass runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from agents_app.models import AgentResource, ResourceGroup
from backendai_site.common.redis import get_redis
from sessions_app.models import Session
from sessions_app.scheduler.runner import PassReport, schedule_resource_group
from tests.factories.agents import ResourceGroupFactory
from tests.factories.sessions import KeyPairFactory, SessionFactory

GIB = 1024**3


@pytest.fixture(autouse=True)
def _forget_scheduler_state() -> Iterator[None]:
    client = get_redis()
    for key in client.scan_iter("bai:sched:*"):
        client.delete(key)
    yield


def make_group(scheduler: str = "fifo", **opts: Any) -> ResourceGroup:
    group: ResourceGroup = ResourceGroupFactory(scheduler=scheduler)
    if opts:
        group.scheduler_opts = {**group.scheduler_opts, **opts}
        group.save(update_fields=["scheduler_opts"])
    return group


@pytest.fixture
def group(db: None) -> ResourceGroup:
    return make_group(agent_selection_strategy="dispersed")


def pending(group: ResourceGroup, *, cpu: str = "1", mem: int = GIB, **kwargs: Any) -> Session:
    """A PENDING session of `group` (fresh owner unless `access_key` etc. are given)."""
    kwargs.setdefault("requested_slots", {"cpu": cpu, "mem": str(mem)})
    session: Session = SessionFactory(resource_group=group, **kwargs)
    return session


def same_owner(session: Session) -> dict[str, Any]:
    return {
        "access_key": session.access_key,
        "user": session.user,
        "domain": session.domain,
        "project": session.project,
    }


def used(agent_id: str, slot: str = "cpu") -> Decimal:
    return AgentResource.objects.get(agent_id=agent_id, slot_name=slot).used


def verdict(session: Session) -> dict[str, Any]:
    session.refresh_from_db()
    result: dict[str, Any] = session.status_data.get("scheduler", {})
    return result


@pytest.fixture
def run_pass() -> Callable[[ResourceGroup], PassReport]:
    def run(group: ResourceGroup, **kwargs: Any) -> PassReport:
        return schedule_resource_group(group.pk, **kwargs)

    return run


@pytest.fixture
def owner(db: None) -> Any:
    return KeyPairFactory()
