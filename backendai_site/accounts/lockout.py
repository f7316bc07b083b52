"""The answer to a password login that django-axes has locked out (admin and console logins)."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse


def login_lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429 with `Retry-After`: this account is locked for this client address only."""
    cool_off = get_cool_off(request)
    seconds = max(1, math.ceil(cool_off.total_seconds())) if cool_off else 900
    response = HttpResponse(
        "Too many failed logins for this account from your address; "
        f"try again in {math.ceil(seconds / 60)} minute(s).",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response
