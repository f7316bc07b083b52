"""Request bodies and queries parsed into pydantic models; a failure is a 400 naming the fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from backendai_site.common.errors import InvalidAPIParameters


def payload_parse[M: BaseModel](model: type[M], data: Any, *, what: str = "request") -> M:
    """`model` validated from `data`, or InvalidAPIParameters with one message per bad field."""
    if not isinstance(data, dict):
        raise InvalidAPIParameters(f"The {what} must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {
            ".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()
        }
        raise InvalidAPIParameters(
            f"Invalid {what}: " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
            data=fields,
        ) from None
