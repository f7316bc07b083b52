"""Domain errors with stable machine-readable codes.

Errors here know nothing of HTTP: each carries a `kind` and a stable `error_type` slug; the API's
exception handler (common/api/exception_handler.py) maps kinds to status codes and renders the
problem+json body the official Backend.AI client prints.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://api.backend.ai/probs/"
# An error body echoes input; these bounds keep a small request from yielding a large answer.
MAX_MESSAGE_CHARS = 1024
MAX_DATA_STRING_CHARS = 256
MAX_DATA_ITEMS = 32
MAX_DATA_DEPTH = 4


class ErrorKind(StrEnum):
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not-found"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate-limited"
    UNAVAILABLE = "unavailable"
    NOT_IMPLEMENTED = "not-implemented"
    INTERNAL = "internal"


class BackendError(Exception):
    """Base of every error the API reports with a stable type."""

    kind: ClassVar[ErrorKind] = ErrorKind.INTERNAL
    error_type: ClassVar[str] = "internal-server-error"
    title: ClassVar[str] = "Internal server error."

    def __init__(self, msg: str | None = None, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(msg or self.title)
        self.msg = msg
        self.data = data

    def as_problem(self) -> dict[str, Any]:
        """The problem+json body for this error."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.error_type,
            "title": self.title,
            "msg": clip_text(self.msg or self.title, MAX_MESSAGE_CHARS),
        }
        if self.data is not None:
            body["data"] = clip_data(self.data)
        return body


def clip_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def clip_data(value: Any, depth: int = 0) -> Any:
    """`value` with long strings cut, long containers shortened and deep nesting elided."""
    match value:
        case str():
            return clip_text(value, MAX_DATA_STRING_CHARS)
        case bool() | None:
            return value
        case float():
            return value if math.isfinite(value) else str(value)
        case int():
            return value if abs(value) < 10**18 else "(a very large number)"
        case dict() if depth < MAX_DATA_DEPTH:
            items = list(value.items())[:MAX_DATA_ITEMS]
            return {
                clip_text(str(k), MAX_DATA_STRING_CHARS): clip_data(v, depth + 1) for k, v in items
            }
        case list() | tuple() if depth < MAX_DATA_DEPTH:
            return [clip_data(v, depth + 1) for v in list(value)[:MAX_DATA_ITEMS]]
        case dict() | list() | tuple():
            return "\u2026"
    return clip_text(str(value), MAX_DATA_STRING_CHARS)


class InvalidAPIParameters(BackendError):
    kind = ErrorKind.INVALID
    error_type = "invalid-api-params"
    title = "Missing or invalid API parameters."


class InvalidAuthParameters(BackendError):
    kind = ErrorKind.UNAUTHORIZED
    error_type = "invalid-auth-params"
    title = "Missing or invalid authorization parameters."


class AuthorizationFailed(BackendError):
    kind = ErrorKind.UNAUTHORIZED
    error_type = "auth-failed"
    title = "Credential/signature mismatch."


class ClockSkewError(BackendError):
    kind = ErrorKind.UNAUTHORIZED
    error_type = "clock-skew"
    title = "Date/time sync error."


class LoginFailed(BackendError):
    kind = ErrorKind.UNAUTHORIZED
    error_type = "login-failed"
    title = "Invalid domain, e-mail or password."


class PermissionDenied(BackendError):
    kind = ErrorKind.FORBIDDEN
    error_type = "forbidden"
    title = "Forbidden operation."


class NotFound(BackendError):
    kind = ErrorKind.NOT_FOUND
    error_type = "not-found"
    title = "Unknown URL path or object."


class MethodNotAllowed(BackendError):
    kind = ErrorKind.METHOD_NOT_ALLOWED
    error_type = "method-not-allowed"
    title = "HTTP method not allowed."


class Conflict(BackendError):
    kind = ErrorKind.CONFLICT
    error_type = "conflict"
    title = "The request conflicts with the current state."


class RetryLater(BackendError):
    """An error that passes after a known number of seconds (`retry_after`, when known)."""

    kind = ErrorKind.RATE_LIMITED

    def __init__(
        self,
        msg: str | None = None,
        *,
        data: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(msg, data=data)
        self.retry_after = retry_after


class RateLimitExceeded(RetryLater):
    kind = ErrorKind.RATE_LIMITED
    error_type = "too-many-requests"
    title = "Too many requests."


class LoginThrottled(RetryLater):
    kind = ErrorKind.RATE_LIMITED
    error_type = "too-many-login-failures"
    title = "Too many failed login attempts; try again later."


class ServiceUnavailable(BackendError):
    kind = ErrorKind.UNAVAILABLE
    error_type = "service-unavailable"
    title = "A backing service is unavailable."


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached (restarting, failing over): retry after `retry_after`."""

    error_type = "database-unavailable"
    title = "The database is temporarily unavailable; retry shortly."
    retry_after: ClassVar[int] = 5


class InvalidResourceSlot(InvalidAPIParameters):
    """A resource amount or slot name that cannot be understood."""

    title = "Invalid resource slot."
