"""OpenAPI postprocessing: every operation documents the problem+json errors it can answer.

The error statuses come from the one exception handler (exception_handler.STATUS_BY_KIND), so
the schema cannot drift from what the API really sends: any operation may be refused as
malformed (400), unauthenticated (401), forbidden (403), unknown (404), in the wrong state (409)
or rate-limited (429, with Retry-After), and may find a backing service unavailable (503).
"""

from __future__ import annotations

from typing import Any

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title"],
    "properties": {
        "type": {"type": "string", "description": "A stable URI naming the error"},
        "title": {"type": "string"},
        "msg": {"type": "string"},
        "data": {"description": "Machine-readable details (fields, limits, ids)"},
    },
}
ERROR_DESCRIPTIONS = {
    400: "Missing or invalid parameters",
    401: "Missing, malformed or mismatching signature, or a wrong password",
    403: "The caller may not do this",
    404: "No such object (or not visible to the caller)",
    405: "Method not allowed",
    409: "The object is in a state that does not allow this",
    429: "Too many requests or failed logins (see Retry-After)",
    503: "A backing service (Redis, an agent, a kernel runner) is unavailable",
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _problem(code: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }
    if code == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response


def add_error_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Postprocessing hook (last in the list): the Problem schema, and on every operation each
    error status it does not already describe."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for item in result.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for code in ERROR_DESCRIPTIONS:
                responses.setdefault(str(code), _problem(code))
            responses["429"].setdefault("headers", _problem(429)["headers"])
    return result


def drop_session_mode_copies(endpoints: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Preprocessing hook: `/func/...` repeats the whole API for session-mode clients (cookie
    instead of signature, COMPAT.md 2.8); the schema documents each operation once."""
    return [endpoint for endpoint in endpoints if not str(endpoint[0]).startswith("/func/")]
