"""The kernel image scripts/build_kernel_image.sh builds (marker `docker`): `python` beside
`python3`, OpenSSH's server without baked-in host keys, the `sshd` service in its labels, and the
recipe label that tells the script whether the image is up to date."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest

from tests.helpers.paths import REPO_ROOT
from tests.helpers.stack import require

pytestmark = pytest.mark.docker

IMAGE = "backendai/python:3.11-debian"


def labels() -> dict[str, str]:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", IMAGE],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    require(result.returncode == 0, f"{IMAGE} is missing (scripts/build_kernel_image.sh)")
    return dict(json.loads(result.stdout))


def in_image(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", IMAGE, "/bin/sh", "-c", script],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def docker_cli() -> None:
    require(shutil.which("docker") is not None, "the docker CLI is not installed")


class TestKernelImage:
    def test_labels_declare_sshd_and_the_current_recipe(self) -> None:
        found = labels()
        script = (REPO_ROOT / "scripts" / "build_kernel_image.sh").read_bytes()

        assert "sshd:tcp:2200" in found["ai.backend.service-ports"].split(",")
        assert "terminal:pty:7681" in found["ai.backend.service-ports"].split(",")
        assert found["org.backendai-django.image-recipe"] == hashlib.sha256(script).hexdigest()[:16]

    def test_python_sshd_and_no_shared_host_keys(self) -> None:
        labels()
        result = in_image(
            "python -c 'import sys; print(sys.version_info[0])'; "
            "test -x /usr/sbin/sshd && test -x /usr/bin/ssh-keygen && echo sshd-ok; "
            "ls /etc/ssh/ | grep -c ssh_host_ || true; whoami"
        )

        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["3", "sshd-ok", "0", "work"]
