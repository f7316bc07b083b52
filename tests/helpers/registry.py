"""A loopback image registry and locally imported images for the registry tests."""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass


@dataclass(frozen=True)
class LoopbackRegistry:
    host: str  # "127.0.0.1:<port>", the registry part of image refs

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def docker(*args: str, timeout: float = 300) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def import_labelled_image(ref: str, labels: dict[str, str]) -> None:
    """A one-file image with the given labels, made with `docker import` (no network)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"backendai-django test image\n"
        info = tarfile.TarInfo("README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    changes: list[str] = []
    for key, value in labels.items():
        changes += ["--change", f"LABEL {key}={value}"]
    result = subprocess.run(
        ["docker", "import", *changes, "-", ref],
        input=buffer.getvalue(),
        capture_output=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"docker import: {result.stderr.decode().strip()}")
