"""Middleware shared by every API view."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from backendai_site.common.api.exception_handler import is_database_unreachable, problem_response
from backendai_site.common.errors import DatabaseUnavailable, InvalidAPIParameters
from backendai_site.common.ratelimit import RateLimitState

RATE_LIMIT_ATTR = "bai_rate_limit"


class RateLimitHeadersMiddleware:
    """Adds `X-RateLimit-*` headers when the request was counted against a keypair's limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        state = getattr(request, RATE_LIMIT_ATTR, None)
        if isinstance(state, RateLimitState):
            response["X-RateLimit-Limit"] = str(state.limit)
            response["X-RateLimit-Remaining"] = str(state.remaining)
            response["X-RateLimit-Window"] = str(state.window_seconds)
        return response


class RefuseNulMiddleware:
    """Answers 400 to a NUL byte in the path or the query (`{ref}`, `owner_access_key`, `name`,
    ...): PostgreSQL cannot store or compare one, so no view should ever see it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return problem_response(
                InvalidAPIParameters("The URL path or query contains a NUL byte.")
            )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A view outside DRF (the admin, plain Django views) that fails because the database is
    unreachable answers 503 `database-unavailable` with `Retry-After`, like the API views do
    through the DRF exception handler, instead of a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unreachable(exception):
            return problem_response(DatabaseUnavailable())
        return None
