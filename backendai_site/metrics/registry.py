"""Which registry a scrape reads: the merged per-process files under `PROMETHEUS_MULTIPROC_DIR`
when the roles run under gunicorn/Celery, else this process's default registry."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry() -> CollectorRegistry:
    """A fresh registry over every process's files in multiprocess mode (prometheus-client asks
    for one per scrape), the process-wide default registry otherwise."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return registry


def scrape() -> bytes:
    """The text exposition of every metric."""
    return generate_latest(scrape_registry())
