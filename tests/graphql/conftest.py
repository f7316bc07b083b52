from __future__ import annotations

from tests.sessions_app.conftest import world

__all__ = ["world"]
