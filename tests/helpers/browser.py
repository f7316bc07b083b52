"""Types of the browser tests' fixtures."""

from __future__ import annotations

from collections.abc import Callable

import httpx

Signed = Callable[..., httpx.Response]
