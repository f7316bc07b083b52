"""Times in the console in the admin user's time zone: the browser sends its zone in the
`console_tz` cookie (set by static/console/timezone.js) and this activates it for console
pages only. API answers keep the site's zone whatever cookie a browser sends."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "console_tz"
PREFIXES = ("/admin/", "/console/")


def zone_from_cookie(value: str | None) -> ZoneInfo | None:
    """The IANA zone the cookie names, or None for a missing or unknown one."""
    if not value or len(value) > 64:
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class ConsoleTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = None
        if request.path.startswith(PREFIXES):
            zone = zone_from_cookie(request.COOKIES.get(COOKIE))
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
