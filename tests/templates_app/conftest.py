"""Template and dotfile scenarios (tests/helpers/tenants.py)."""

from __future__ import annotations

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from tests.factories.world import ComputeWorld
from tests.helpers.tenants import Tenants, tenants_make


@pytest.fixture
def tenants(db: None) -> Tenants:
    defaults = default_tenancy_ensure()
    return tenants_make(defaults.domain, defaults.project)


@pytest.fixture
def compute_tenants(world: ComputeWorld) -> Tenants:
    """The same people in the compute world (an agent, the `python` image) for session creates."""
    return tenants_make(world.domain, world.project)
