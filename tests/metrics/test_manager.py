"""The manager's metrics: a real scheduler pass and a real coordinator run update them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from prometheus_client import REGISTRY

from backendai_site.common.redis import get_redis
from backendai_site.config import get_config
from sessions_app.models import Session
from sessions_app.scheduler.runner import schedule_resource_group
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.coordinator import sessions_coordinate
from sessions_app.services.enqueue import session_enqueue
from tests.factories.sessions import agent_with_capacity
from tests.factories.world import ComputeWorld
from tests.helpers.lifecycle import Sent
from tests.helpers.scheduler import make_group, pending

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(autouse=True)
def _forget_scheduler_state() -> None:
    client = get_redis()
    for key in client.scan_iter("bai:sched:*"):
        client.delete(key)


def test_a_pass_sets_queue_gauges_and_counts_placements_and_verdicts() -> None:
    group = make_group()
    agent_with_capacity(group, cpu=1)
    now = timezone.now()
    ages = (30, 20, 10)
    for age in ages:
        pending(group, created=now - timedelta(seconds=age))
    name = group.name
    placed = sample("bai_scheduler_placements_total", resource_group=name)
    waiting_verdicts = sample(
        "bai_scheduler_verdicts_total", resource_group=name, code="insufficient-capacity"
    )
    passes = sample("bai_scheduler_pass_duration_seconds_count", resource_group=name)

    with time_machine.travel(now, tick=False):
        schedule_resource_group(group.pk)

    # the oldest is placed (FIFO, one CPU); the two younger ones wait
    assert sample("bai_scheduler_placements_total", resource_group=name) == placed + 1
    assert sample("bai_scheduler_pending_sessions", resource_group=name) == 2
    assert sample("bai_scheduler_oldest_pending_age_seconds", resource_group=name) == 20
    assert (
        sample("bai_scheduler_verdicts_total", resource_group=name, code="insufficient-capacity")
        == waiting_verdicts + 2
    )
    assert sample("bai_scheduler_pass_duration_seconds_count", resource_group=name) == passes + 1


def test_an_empty_queue_zeroes_the_gauges() -> None:
    group = make_group()
    agent_with_capacity(group, cpu=1)
    session = pending(group, cpu="2")  # never fits
    schedule_resource_group(group.pk)
    assert sample("bai_scheduler_pending_sessions", resource_group=group.name) == 1
    assert sample("bai_scheduler_oldest_pending_age_seconds", resource_group=group.name) > 0

    Session.objects.filter(pk=session.pk).delete()
    schedule_resource_group(group.pk)
    assert sample("bai_scheduler_pending_sessions", resource_group=group.name) == 0
    assert sample("bai_scheduler_oldest_pending_age_seconds", resource_group=group.name) == 0


def test_coordinator_retries_and_give_ups_are_counted(
    world: ComputeWorld,
    sent_commands: Sent,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate(
                {"image": "python", "name": "metrics1", "enqueueOnly": True, "type": "batch",
                 "startupCommand": "true", "config": {"resources": {"cpu": "1", "mem": "1g"}}}
            ),
        )  # fmt: skip
        schedule_resource_group(world.group.pk)
    config = get_config().coordinator
    step = config.start_timeout + 1
    resent = sample("bai_coordinator_actions_total", action="create_resent")
    gave_up = sample("bai_coordinator_actions_total", action="gave_up")

    for attempt in range(1, config.start_attempts + 1):
        with django_capture_on_commit_callbacks(execute=True):
            sessions_coordinate(now=timezone.now() + timedelta(seconds=step * attempt))

    assert sample("bai_coordinator_actions_total", action="create_resent") == (
        resent + config.start_attempts - 1
    )
    assert sample("bai_coordinator_actions_total", action="gave_up") == gave_up + 1
