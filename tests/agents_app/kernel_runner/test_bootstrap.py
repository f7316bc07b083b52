"""The bootstrap script runs before the runner accepts connections (runner on the host)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from agents_app.kernel_runner import RUNNER_PATH
from agents_app.runtime.models import BOOTSTRAP_FAILED_EXIT_CODE
from tests.helpers.host_runner import RUNNER_SECRET

SECRET = RUNNER_SECRET


class TestBootstrap:
    def test_the_script_runs_in_the_workdir_before_the_runner_is_ready(
        self, start_runner: Callable[..., int], tmp_path: Path
    ) -> None:
        script = tmp_path / "bootstrap.sh"
        script.write_text("echo booted > marker.txt\n")

        start_runner(BAI_BOOTSTRAP_SCRIPT=str(script))

        assert (tmp_path / "marker.txt").read_text() == "booted\n"

    def test_a_failing_script_stops_the_runner_with_its_output_in_the_log(
        self, tmp_path: Path
    ) -> None:
        script = tmp_path / "bootstrap.sh"
        script.write_text("echo from-bootstrap\nexit 7\n")
        env = {
            **os.environ,
            "BAI_RUNNER_SECRET": SECRET,
            "BAI_RUNNER_PORT": "0",
            "BAI_WORKDIR": str(tmp_path),
            "BAI_BOOTSTRAP_SCRIPT": str(script),
        }

        done = subprocess.run(
            [sys.executable, "-B", str(RUNNER_PATH)],
            env=env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip

        assert done.returncode == BOOTSTRAP_FAILED_EXIT_CODE
        assert "from-bootstrap" in done.stdout
        assert "bootstrap script failed with exit code 7" in done.stderr
