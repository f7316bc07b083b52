"""The one place where errors become HTTP responses (problem+json, never HTML)."""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import Http404, HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from backendai_site.common.errors import (
    PROBLEM_TYPE_BASE,
    AuthorizationFailed,
    BackendError,
    DatabaseUnavailable,
    ErrorKind,
    InvalidAPIParameters,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    RateLimitExceeded,
    RetryLater,
)

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
# The exception behind a 5xx answer, left on the Django request for the error log's middleware.
UNHANDLED_EXCEPTION_ATTR = "bai_unhandled_exception"
# Set on a 503 `database-unavailable` answer: the database is known to be away, so nothing after
# the view (the server-error log) should wait for a connection to it again.
DATABASE_UNAVAILABLE_ATTR = "bai_database_unavailable"

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.METHOD_NOT_ALLOWED: 405,
    ErrorKind.CONFLICT: 409,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.NOT_IMPLEMENTED: 501,
    ErrorKind.INTERNAL: 500,
}


def _from_drf(exc: drf_exceptions.APIException) -> BackendError:
    match exc:
        case drf_exceptions.ValidationError():
            detail = exc.detail
            data = detail if isinstance(detail, dict) else {"non_field_errors": detail}
            return InvalidAPIParameters("Request validation failed.", data=_plain(data))
        case drf_exceptions.ParseError():
            return InvalidAPIParameters(str(exc.detail))
        case drf_exceptions.AuthenticationFailed() | drf_exceptions.NotAuthenticated():
            return AuthorizationFailed(str(exc.detail))
        case drf_exceptions.PermissionDenied():
            return PermissionDenied(str(exc.detail))
        case drf_exceptions.NotFound():
            return NotFound(str(exc.detail))
        case drf_exceptions.MethodNotAllowed():
            return MethodNotAllowed(str(exc.detail))
        case drf_exceptions.Throttled():
            return RateLimitExceeded(str(exc.detail))
        case drf_exceptions.UnsupportedMediaType() | drf_exceptions.NotAcceptable():
            return InvalidAPIParameters(str(exc.detail))
    return BackendError(str(exc.detail))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


# SQLSTATEs of a server that is going away or not accepting connections yet
_UNREACHABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def is_database_unreachable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached (down, restarting, connection lost),
    as opposed to a query that failed on a working server (a lock or statement timeout)."""
    match exc:
        case InterfaceError():
            return True
        case OperationalError():
            # a connection-level failure has no SQLSTATE (refused, reset, pool timeout) or one
            # of class 08 (connection exception) or a server shutting down
            sqlstate = getattr(exc.__cause__, "sqlstate", None)
            return (
                sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNREACHABLE_SQLSTATES
            )
    return False


def database_answers() -> bool:
    """Whether this thread can reach the database right now (a round trip, then let go)."""
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False
    finally:
        connection.close()


def to_backend_error(exc: BaseException) -> BackendError:
    """Translate any exception into the domain error that describes it to a client."""
    match exc:
        case BackendError():
            return exc
        case Http404():
            return NotFound()
        case drf_exceptions.APIException():
            return _from_drf(exc)
        case _ if is_database_unreachable(exc):
            return DatabaseUnavailable()
    return BackendError()


def problem_status(error: BackendError) -> int:
    return STATUS_BY_KIND[error.kind]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, known or not, as problem+json."""
    error = to_backend_error(exc)
    status = problem_status(error)
    if isinstance(error, DatabaseUnavailable):
        log.warning("database unavailable", extra={"error": str(exc)})
    elif status >= 500:
        log.exception("unhandled API error", exc_info=exc)
        request = context.get("request")
        if request is not None:
            setattr(getattr(request, "_request", request), UNHANDLED_EXCEPTION_ATTR, exc)
    response = Response(error.as_problem(), status=status, content_type=PROBLEM_CONTENT_TYPE)
    _add_retry_after(response, exc, error)
    return response


def _add_retry_after(response: HttpResponseBase, exc: BaseException, error: BackendError) -> None:
    """`Retry-After` on every 429 (RFC 6585): the known wait, else one second; on a 503 whose
    cause passes by itself (the database restarting), the error's own estimate."""
    if isinstance(error, DatabaseUnavailable):
        response["Retry-After"] = str(error.retry_after)
        setattr(response, DATABASE_UNAVAILABLE_ATTR, True)
        return
    if problem_status(error) != 429:
        return
    wait: float | None = None
    if isinstance(error, RetryLater):
        wait = error.retry_after
    elif isinstance(exc, drf_exceptions.Throttled):
        wait = getattr(exc, "wait", None)
    response["Retry-After"] = str(max(1, math.ceil(wait or 1)))


def problem_response(error: BackendError) -> JsonResponse:
    """A problem+json response outside DRF (404/500 handlers, middleware)."""
    response = JsonResponse(
        error.as_problem(), status=problem_status(error), content_type=PROBLEM_CONTENT_TYPE
    )
    _add_retry_after(response, error, error)
    return response


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(NotFound(f"Unknown URL path: {request.path}"))


def handler500(request: HttpRequest) -> JsonResponse:
    """An error no view handled (a middleware's, say): 503 when the database is what failed.

    Under ASGI Django calls this outside the `except` that caught the error, so when the error
    itself is not at hand the database is asked directly."""
    exc = sys.exception()
    if is_database_unreachable(exc) or (exc is None and not database_answers()):
        return problem_response(DatabaseUnavailable())
    return problem_response(BackendError())


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(InvalidAPIParameters("Bad request."))


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(PermissionDenied())


__all__ = ["PROBLEM_TYPE_BASE", "api_exception_handler", "problem_response"]


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF_FAILURE_VIEW: JSON like every other error (the signed API is CSRF-exempt)."""
    return problem_response(PermissionDenied(f"CSRF verification failed: {reason}"))
