"""The kernel runner source (`bai_runner/`) and the host side that speaks to it (`client`).

`RUNNER_PATH` is the host path of the `bai_runner` package directory, which the runtime mounts
read-only into containers and starts with the image's own python3. Nothing in `bai_runner/` may
import the project; this module imports only the standard library so that importing the
package from the host loads nothing else.
"""

from __future__ import annotations

from pathlib import Path

RUNNER_PATH = Path(__file__).with_name("bai_runner")

__all__ = ["RUNNER_PATH"]
