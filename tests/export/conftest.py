from __future__ import annotations

import pytest

from tests.factories.export_world import ExportWorld, make_export_world
from tests.factories.world import ComputeWorld


@pytest.fixture
def export_world(world: ComputeWorld) -> ExportWorld:
    return make_export_world(world)
