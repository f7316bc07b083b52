"""pytest plugin (`-p tests.devservices_plugin`): with no database configured, the embedded
PostgreSQL of `backendai_site.devservices` is brought up before pytest-django loads the settings,
which never start anything themselves. `make test` exports `DATABASE_URL` first, so it does nothing
there."""

from __future__ import annotations

import os

import pytest

from backendai_site.config import load_config
from backendai_site.devservices import ensure_embedded_postgres


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    config = load_config()
    if not config.database_url:
        os.environ["DATABASE_URL"] = ensure_embedded_postgres(config.data_dir)
