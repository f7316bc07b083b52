"""Every 5xx answer of the site goes into the error log (`GET /logs/error` lists it)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from backendai_site.common.api.exception_handler import (
    DATABASE_UNAVAILABLE_ATTR,
    UNHANDLED_EXCEPTION_ATTR,
)

from .services import error_log_record_server_error

log = logging.getLogger(__name__)


class ServerErrorLogMiddleware:
    """Records the request, the status and (when known) the traceback of a 5xx answer.

    DRF views answer their own exceptions through the API exception handler, which leaves the
    exception on the request (`UNHANDLED_EXCEPTION_ATTR`); other views' exceptions arrive in
    `process_exception` before Django's 500 handler answers. A 503 `database-unavailable` is
    not recorded: the error log lives in that database, and trying would hold the answer for
    another connection-pool timeout."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code >= 500 and not getattr(response, DATABASE_UNAVAILABLE_ATTR, False):
            try:
                self._record(request, response.status_code)
            except DatabaseError:  # the database itself is away: the answer stands, unlogged
                log.warning(
                    "server error not recorded: database unavailable",
                    extra={"path": request.path, "status": response.status_code},
                )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        setattr(request, UNHANDLED_EXCEPTION_ATTR, exception)

    def _record(self, request: HttpRequest, status: int) -> None:
        exc = getattr(request, UNHANDLED_EXCEPTION_ATTR, None)
        user = getattr(request, "user", None)
        user_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
        if isinstance(exc, BaseException):
            message = f"{type(exc).__name__}: {exc}"
            text = "".join(traceback.format_exception(exc))
        else:
            message = f"HTTP {status} on {request.method} {request.path}"
            text = None
        error_log_record_server_error(
            user_id=user_id,
            method=request.method or "",
            url=request.get_full_path(),
            status=status,
            message=message,
            traceback_text=text,
        )
