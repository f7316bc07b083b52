"""The compute world of the sessions tests, for the API fuzzing too."""

from __future__ import annotations

from tests.sessions_app.conftest import world

__all__ = ["world"]
