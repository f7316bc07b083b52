"""`make run` gives web, manager, batch and beat one shared multiprocess directory and the agent
none (scripts/supervisor_conf.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.paths import REPO_ROOT


def program_sections(conf: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in conf.splitlines():
        if line.startswith("[program:"):
            current = sections.setdefault(line[len("[program:") : -1], [])
        elif line.startswith("["):
            current = None
        elif current is not None:
            current.append(line)
    return sections


def test_django_roles_share_the_metrics_dir_the_agent_does_not(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    conf_path = subprocess.run(
        [sys.executable, "scripts/supervisor_conf.py", "--data-dir", str(tmp_path),
         "--roles", "web,manager,batch,beat,agent", "--metrics-dir", str(metrics_dir)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    programs = program_sections(Path(conf_path).read_text())
    wanted = f'environment=PROMETHEUS_MULTIPROC_DIR="{metrics_dir}"'
    for role in ("web", "manager", "batch", "beat"):
        assert wanted in programs[role], role
    assert not any(line.startswith("environment=") for line in programs["agent"])


def test_without_a_metrics_dir_no_role_gets_one(tmp_path: Path) -> None:
    conf_path = subprocess.run(
        [sys.executable, "scripts/supervisor_conf.py", "--data-dir", str(tmp_path),
         "--roles", "web,manager"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert "PROMETHEUS_MULTIPROC_DIR" not in Path(conf_path).read_text()
