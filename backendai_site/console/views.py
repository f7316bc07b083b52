"""The console's front page (unfold's dashboard callback) and the JSON its charts are drawn
from. Both are thin: what they show is read by `console.selectors`, scoped there."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, JsonResponse

from backendai_site.accounts.models import User

from .selectors import dashboard_for, usage_series

WINDOWS = ("day", "month")


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """`UNFOLD["DASHBOARD_CALLBACK"]`: adds the dashboard to the admin index's context."""
    user = cast(User, request.user)
    context["dashboard"] = dashboard_for(user)
    return context


def dashboard_usage(request: HttpRequest) -> JsonResponse:
    """`GET /admin/console/usage.json`: the last 24 hours by hour and 30 days by day of the
    usage ledger the user may read, per project (kernel starts, slot-hours in each slot's unit).
    Wrapped in `admin_view`, so only a signed-in console user reaches it."""
    user = cast(User, request.user)
    body: dict[str, Any] = {}
    for window in WINDOWS:
        series = usage_series(user, window=window)
        body[window] = {
            "labels": series.labels,
            "starts": series.starts,
            "slot_hours": series.slot_hours,
        }
    return JsonResponse(body)
