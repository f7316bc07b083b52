"""Image references ("host/name:tag"), parsed the way Docker does. Pure: usable by the daemon."""

from __future__ import annotations

from backendai_site.common.errors import InvalidAPIParameters


def split_image_ref(ref: str) -> tuple[str, str, str]:
    """'127.0.0.1:5000/bai/python:3.11' -> ('127.0.0.1:5000', 'bai/python', '3.11').

    The first path component is a registry host when it contains '.' or ':' or is 'localhost'
    (Docker's own rule); the tag defaults to 'latest'. Digests ('@sha256:...') are dropped.
    """
    ref = ref.split("@", 1)[0]
    host = ""
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, ref = first, rest
    name, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag:
        name, tag = ref, "latest"
    if not name:
        raise InvalidAPIParameters(f"not an image reference: {ref!r}")
    return host, name, tag


_ARCH_ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64", "arm64/v8": "aarch64"}


def normalize_architecture(arch: str) -> str:
    """Backend.AI's architecture names: amd64 -> x86_64, arm64 -> aarch64."""
    return _ARCH_ALIASES.get(arch.lower(), arch.lower()) if arch else "x86_64"
