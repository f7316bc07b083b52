"""The web role's metrics: request count and latency by route and status, and `GET /metrics`."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from ipaddress import ip_address
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram

from backendai_site.common.api.exception_handler import problem_response
from backendai_site.common.errors import NotFound, PermissionDenied
from backendai_site.config import MetricsSection, get_config

from .registry import scrape

UNMATCHED_ROUTE = "<unmatched>"
_LABELS = ("method", "route", "status")

HTTP_REQUESTS = Counter("bai_http_requests", "Requests answered by the web role.", _LABELS)
HTTP_REQUEST_SECONDS = Histogram(
    "bai_http_request_duration_seconds",
    "Seconds from a request's arrival to its response, middleware included.",
    _LABELS,
)
# methods outside this set are counted as `other`, so a client cannot grow the label set
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(request: HttpRequest) -> str:
    """The URL pattern that matched (`/session/<str:session_name>`), never the path itself: a
    label per distinct path would grow without bound."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED_ROUTE
    return "/" + str(match.route or "")


def request_observe(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    method = request.method if request.method in _METHODS else "other"
    labels = {"method": method, "route": route_label(request), "status": str(response.status_code)}
    HTTP_REQUESTS.labels(**labels).inc()
    HTTP_REQUEST_SECONDS.labels(**labels).observe(seconds)


class RequestMetricsMiddleware:
    """Counts and times every request (first in MIDDLEWARE, so the others' time is included).
    Works in both modes, so it adds no sync/async switch of its own."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response: HttpResponse = self.get_response(request)
        request_observe(request, response, time.perf_counter() - started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response: HttpResponse = await self.get_response(request)
        request_observe(request, response, time.perf_counter() - started)
        return response


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def scrape_allowed(request: HttpRequest, config: MetricsSection) -> bool:
    """The one access rule of `/metrics` (it is not an API resource, so not the API's
    permission rule): a presented bearer token must be the configured one; without a token the
    client's address must lie in `allowed_networks`."""
    token = _bearer_token(request)
    if token is not None:
        return config.bearer_token is not None and hmac.compare_digest(
            token.encode(), config.bearer_token.encode()
        )
    try:
        address = ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in config.allowed_networks)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    config = get_config().metrics
    if not config.enabled:
        return problem_response(NotFound("Metrics are disabled (BAI_METRICS_ENABLED)."))
    if not scrape_allowed(request, config):
        return problem_response(
            PermissionDenied(
                "This address may not read /metrics (BAI_METRICS_ALLOWED_NETWORKS, "
                "BAI_METRICS_BEARER_TOKEN)."
            )
        )
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
