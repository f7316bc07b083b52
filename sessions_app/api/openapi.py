"""OpenAPI for the two async endpoints drf-spectacular cannot see (`/session`, `/events/session`).

Registered as a drf-spectacular postprocessing hook; request schemas come from the same pydantic
models that validate the requests.
"""

from __future__ import annotations

from typing import Any

from sessions_app.enums import SessionStatus
from sessions_app.schemas import SessionCreateRequest

REF_TEMPLATE = "#/components/schemas/{model}"

_CREATE_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["sessionId", "sessionName", "status", "servicePorts", "created"],
    "properties": {
        "sessionId": {"type": "string", "format": "uuid"},
        "sessionName": {"type": "string"},
        "status": {"type": "string", "enum": [*SessionStatus.values, "TIMEOUT"]},
        "servicePorts": {"type": "array", "items": {"type": "object"}},
        "created": {"type": "boolean"},
        "statusInfo": {"type": "string"},
        "schedulerVerdict": {"type": "object", "nullable": True},
    },
}
_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "msg": {"type": "string"},
        "data": {"type": "object"},
    },
}


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": "Problem",
            "content": {"application/problem+json": {"schema": _PROBLEM}},
        }
        for code in codes
    }


def add_async_session_endpoints(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Postprocessing hook: describe `POST|GET /session` and `GET /events/session`."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    schema = SessionCreateRequest.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
    components.update(schema.pop("$defs", {}))
    components["SessionCreateRequest"] = schema
    components["SessionCreateResponse"] = _CREATE_RESPONSE
    components.setdefault("Problem", _PROBLEM_SCHEMA)
    security: list[dict[str, list[str]]] = [{"BackendAISignature": []}]
    paths = result.setdefault("paths", {})
    paths["/session"] = {
        "post": {
            "operationId": "session_enqueue",
            "summary": "Create a session; waits for RUNNING unless enqueueOnly",
            "tags": ["session"],
            "security": security,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/SessionCreateRequest"}
                    }
                },
            },
            "responses": {
                "201": {
                    "description": "Created",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/SessionCreateResponse"}
                        }
                    },
                },
                "200": {
                    "description": "An existing session was reused",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/SessionCreateResponse"}
                        }
                    },
                },
                **_problem_responses(400, 401, 403, 404, 409, 429),
            },
        },
        "get": {
            "operationId": "session_list",
            "summary": "Sessions visible to the caller (paginated, filtered)",
            "tags": ["session"],
            "security": security,
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
                for name, kind in (
                    ("status", "string"),
                    ("type", "string"),
                    ("owner", "string"),
                    ("project", "string"),
                    ("resource_group", "string"),
                    ("name", "string"),
                    ("limit", "integer"),
                    ("offset", "integer"),
                )
            ],
            "responses": {
                "200": {
                    "description": "A page of sessions",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_problem_responses(400, 401),
            },
        },
    }
    paths["/events/session"] = {
        "get": {
            "operationId": "session_events",
            "summary": "Lifecycle events of one session (server-sent events)",
            "tags": ["session"],
            "security": security,
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in ("sessionName", "sessionId", "owner_access_key", "scope")
            ],
            "responses": {
                "200": {
                    "description": "event: <name> / data: <JSON> frames, ending with server_close",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **_problem_responses(400, 401, 404),
            },
        }
    }
    return result
