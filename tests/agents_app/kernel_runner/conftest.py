"""The real runner package started on the host (no container), for client and protocol tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.host_runner import host_runners


@pytest.fixture
def start_runner(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Start a runner with extra environment; returns its port (stopped after the test)."""
    with host_runners(tmp_path) as start:
        yield start


@pytest.fixture
def runner_port(start_runner: Callable[..., int]) -> int:
    return start_runner()
