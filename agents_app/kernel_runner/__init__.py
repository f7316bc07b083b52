"""The kernel runner: a stdlib-only program bind-mounted into every kernel container.

`RUNNER_PATH` is the host path of `runner.py`, which the runtime mounts read-only into containers.
Nothing here may import the project: the runner runs with the image's own python3.
"""

from __future__ import annotations

from pathlib import Path

RUNNER_PATH = Path(__file__).with_name("runner.py")

__all__ = ["RUNNER_PATH"]
