"""Console pages in the browser's time zone; API answers untouched."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from backendai_site.console.middleware import COOKIE, ConsoleTimezoneMiddleware, zone_from_cookie


def zone_seen(path: str, cookie: str | None) -> str:
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    request = RequestFactory().get(path)
    if cookie is not None:
        request.COOKIES[COOKIE] = cookie
    ConsoleTimezoneMiddleware(view)(request)
    return seen[0]


class TestConsoleTimezoneMiddleware:
    def test_console_pages_use_the_cookie_zone(self) -> None:
        assert zone_seen("/admin/", "Asia/Seoul") == "Asia/Seoul"
        assert timezone.get_current_timezone_name() == "UTC"  # deactivated afterwards

    def test_api_and_bad_cookies_keep_the_site_zone(self) -> None:
        assert zone_seen("/session", "Asia/Seoul") == "UTC"
        assert zone_seen("/admin/", "Not/AZone") == "UTC"
        assert zone_seen("/admin/", "../../etc/passwd") == "UTC"
        assert zone_seen("/admin/", None) == "UTC"

    def test_zone_from_cookie(self) -> None:
        assert zone_from_cookie("Europe/Berlin") is not None
        assert zone_from_cookie("") is None
        assert zone_from_cookie("x" * 65) is None
