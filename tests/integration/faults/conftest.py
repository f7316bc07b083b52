"""Fault tests: real processes and containers, one role killed or restarted mid-flight.

The stack's coordinator runs every 2 s with short stuck-state timeouts, so a lost message is
re-sent within seconds; the agent shares its 2 CPUs between up to six kernels so a burst
of small sessions runs at once on this machine."""

from __future__ import annotations

import json

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {
        # six 1-CPU sessions share the machine's 2 CPUs (the image's minimum is cpu=1)
        "BAI_AGENT_EXCLUSIVE_CPUS": "false",
        "BAI_AGENT_CAPACITY": json.dumps({"cpu": "6", "mem": str(4 * 1024**3)}),
        "BAI_COORDINATOR_INTERVAL": "2",
        "BAI_COORDINATOR_SCHEDULED_TIMEOUT": "4",
        "BAI_COORDINATOR_START_TIMEOUT": "15",
        "BAI_COORDINATOR_TERMINATE_TIMEOUT": "5",
        "BAI_AGENTS_LOST_TIMEOUT": "30",
    }


@pytest.fixture
def owner(platform_stack: Stack) -> Credentials:
    return make_member(default_tenancy_ensure().project, "faults-owner@example.com")
