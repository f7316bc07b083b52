"""The answer to a password login that django-axes has locked out (the admin console, the
console login page, and the official client's session-mode `POST /server/login`)."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse

from backendai_site.common.api.exception_handler import problem_response
from backendai_site.common.errors import LoginThrottled

# API logins answer problem+json (the official client reads every error body as JSON).
API_LOGIN_PATHS = ("/server/",)


def login_lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429 with `Retry-After`: this account is locked for this client address only."""
    cool_off = get_cool_off(request)
    seconds = max(1, math.ceil(cool_off.total_seconds())) if cool_off else 900
    if request.path_info.startswith(API_LOGIN_PATHS):
        return problem_response(LoginThrottled(retry_after=seconds))
    response = HttpResponse(
        "Too many failed logins for this account from your address; "
        f"try again in {math.ceil(seconds / 60)} minute(s).",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response
