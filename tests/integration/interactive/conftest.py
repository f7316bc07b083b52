"""Interactive use on a live stack: the official CLI's `run`, `app` and file commands, plus
signed REST and websocket calls made by the test itself (for interrupt and cross-user checks)."""

from __future__ import annotations

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack


@pytest.fixture
def owner(platform_stack: Stack) -> Credentials:
    return make_member(default_tenancy_ensure().project, "interactive-owner@example.com")


@pytest.fixture
def stranger(platform_stack: Stack) -> Credentials:
    return make_member(default_tenancy_ensure().project, "interactive-stranger@example.com")
