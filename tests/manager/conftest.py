from __future__ import annotations

import pytest

from backendai_site.accounts.enums import UserRole
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials


@pytest.fixture
def domain_admin(world: ComputeWorld) -> Credentials:
    return make_member(world.project, "dadmin@example.com", UserRole.ADMIN)
