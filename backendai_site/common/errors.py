"""Domain errors with stable machine-readable codes.

Errors here know nothing of HTTP: each carries a `kind` and a stable `error_type` slug; the API's
exception handler (common/api/exception_handler.py) maps kinds to status codes and renders the
problem+json body the official Backend.AI client prints.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://api.backend.ai/probs/"


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
            "msg": self.msg or self.title,
        }
        if self.data is not None:
            body["data"] = self.data
        return body


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


class RateLimitExceeded(BackendError):
    kind = ErrorKind.RATE_LIMITED
    error_type = "too-many-requests"
    title = "Too many requests."


class LoginThrottled(BackendError):
    kind = ErrorKind.RATE_LIMITED
    error_type = "too-many-login-failures"
    title = "Too many failed login attempts; try again later."


class ServiceUnavailable(BackendError):
    kind = ErrorKind.UNAVAILABLE
    error_type = "service-unavailable"
    title = "A backing service is unavailable."


class InvalidResourceSlot(InvalidAPIParameters):
    """A resource amount or slot name that cannot be understood."""

    title = "Invalid resource slot."
