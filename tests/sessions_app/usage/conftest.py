from __future__ import annotations

from collections.abc import Callable

import pytest

from sessions_app.models import Kernel
from tests.helpers.usage import running_kernel_create


@pytest.fixture
def running_kernel(db: None) -> Callable[..., Kernel]:
    """Makes RUNNING kernels with a given start (see tests.helpers.usage)."""
    return running_kernel_create
