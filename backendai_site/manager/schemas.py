"""Request payloads of the manager endpoints (wire facts: docs/compat/rest-extras.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from backendai_site.common.validation import NoNul, Text64, Text64K, Text256

from .enums import ErrorLogSeverity, ManagerStatus, SchedulerOperation

MAX_AGENTS_PER_OPERATION = 1000
AgentId = Annotated[str, StringConstraints(min_length=1, max_length=64), NoNul]


class ManagerStatusUpdate(BaseModel):
    """`PUT /manager/status`: `{"status": "frozen"|"running", "force_kill": bool}`."""

    model_config = ConfigDict(extra="ignore")

    status: ManagerStatus
    force_kill: bool = False


class AnnouncementUpdate(BaseModel):
    """`POST /manager/announcement`: a null `message` keeps the stored one."""

    model_config = ConfigDict(extra="ignore")

    enabled: bool = False
    message: Text64K | None = None


class SchedulerOperationRequest(BaseModel):
    """`POST /manager/scheduler/operation`: `{"op": "include-agents", "args": ["i-1", ...]}`."""

    model_config = ConfigDict(extra="ignore")

    op: SchedulerOperation
    args: list[AgentId] = Field(min_length=1, max_length=MAX_AGENTS_PER_OPERATION)

    @field_validator("args", mode="before")
    @classmethod
    def _one_agent_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ErrorLogAppend(BaseModel):
    """`POST /logs/error`: an error a client saw (the web UI and SDKs report them)."""

    model_config = ConfigDict(extra="ignore")

    severity: ErrorLogSeverity
    source: Text256
    message: Text64K
    context_lang: Text64
    context_env: dict[str, Any] = Field(default_factory=dict)
    request_url: Annotated[str, StringConstraints(max_length=2048), NoNul] | None = None
    request_status: int | None = Field(default=None, ge=100, le=999)
    traceback: Text64K | None = None

    @field_validator("context_env", mode="before")
    @classmethod
    def _context_env_as_json_text(cls, value: Any) -> Any:
        """The reference takes `context_env` as JSON text; an object is accepted as well."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError("context_env must be a JSON object") from None
        if not isinstance(value, dict):
            raise ValueError("context_env must be a JSON object")
        return value


TRUE_TEXT = frozenset({"1", "true", "yes", "y", "t", "on"})
FALSE_TEXT = frozenset({"0", "false", "no", "n", "f", "off", ""})


class ErrorLogListQuery(BaseModel):
    """`GET /logs/error?mark_read=True&page_size=20&page_no=1` (the client writes `True`)."""

    model_config = ConfigDict(extra="ignore")

    mark_read: bool = False
    page_size: int = Field(default=20, ge=1, le=100)
    page_no: int = Field(default=1, ge=1, le=1_000_000)

    @field_validator("mark_read", mode="before")
    @classmethod
    def _python_bool_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in TRUE_TEXT:
                return True
            if lowered in FALSE_TEXT:
                return False
            raise ValueError("mark_read must be true or false")
        return value
