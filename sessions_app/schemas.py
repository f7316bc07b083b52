"""Request payloads of the sessions API (the official client's wire format, COMPAT.md 4.1)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from dateutil import parser as date_parser
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .enums import ClusterMode, SessionType

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SESSION_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]{3,63}$")


def parse_duration_seconds(value: str | int | float) -> int:
    """Seconds from "3600", "1h", "30m", "45s", "1d"."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (expected e.g. 3600, 30m, 1h, 1d)")
        seconds = float(match[1]) * _DURATION_UNITS[match[2]]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return int(seconds)


def parse_starts_at(value: str, now: datetime) -> datetime:
    """An ISO-8601 time, or a duration from now ("10m")."""
    try:
        return now + timedelta(seconds=parse_duration_seconds(value))
    except ValueError:
        pass
    try:
        parsed = date_parser.isoparse(value)
    except ValueError:
        raise ValueError(f"not a time or duration: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError("starts_at needs a timezone (e.g. 2026-01-01T00:00:00+00:00)")
    return parsed


class MountOption(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "bind"
    permission: str | None = None
    subpath: str | None = None


class SessionConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    mounts: list[str] = Field(default_factory=list)
    mount_map: dict[str, str] = Field(default_factory=dict)
    mount_options: dict[str, MountOption] = Field(default_factory=dict)
    mount_ids: list[UUID] = Field(default_factory=list)
    mount_id_map: dict[str, str] = Field(default_factory=dict)
    environ: dict[str, str] = Field(default_factory=dict)
    resources: dict[str, Any] = Field(default_factory=dict)
    resource_opts: dict[str, Any] = Field(default_factory=dict)
    scaling_group: str | None = Field(default=None, alias="scalingGroup")
    preopen_ports: list[int] | None = None
    agent_list: list[str] | None = Field(default=None, alias="agentList")

    @field_validator("preopen_ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        if value is None:
            return None
        ports = [int(v) for v in value]
        if any(not 1024 <= p <= 65535 for p in ports):
            raise ValueError("preopen ports must be within 1024-65535")
        return ports


class SessionCreateRequest(BaseModel):
    """`POST /session`, accepting the client's camelCase and snake_case keys."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    image: str = Field(min_length=1, max_length=512)
    name: str | None = Field(default=None, alias="name")
    session_type: SessionType = Field(default=SessionType.INTERACTIVE, alias="type")
    tag: str | None = None
    config: SessionConfig = Field(default_factory=SessionConfig)
    domain: str | None = None
    group: str | None = None
    architecture: str | None = None
    cluster_size: int = Field(default=1, ge=1, le=64, alias="clusterSize")
    cluster_mode: ClusterMode = Field(default=ClusterMode.SINGLE_NODE, alias="clusterMode")
    enqueue_only: bool = Field(default=False, alias="enqueueOnly")
    max_wait_seconds: int = Field(default=0, ge=0, alias="maxWaitSeconds")
    reuse_if_exists: bool = Field(default=True, alias="reuseIfExists")
    startup_command: str | None = Field(default=None, alias="startupCommand")
    bootstrap_script: str | None = None
    batch_timeout: int | None = None
    starts_at: str | None = None
    priority: int = Field(default=10)
    dependencies: list[UUID] | None = None
    callback_url: str | None = None
    owner_access_key: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not SESSION_NAME_RE.match(value):
            raise ValueError(
                "4 to 64 characters: letters, digits, '-', '_' and '.', starting alphanumeric"
            )
        return value

    @field_validator("cluster_mode", mode="before")
    @classmethod
    def _cluster_mode(cls, value: Any) -> Any:
        return value.replace("_", "-") if isinstance(value, str) else value

    @field_validator("batch_timeout", mode="before")
    @classmethod
    def _batch_timeout(cls, value: Any) -> Any:
        return None if value in (None, "") else parse_duration_seconds(value)

    @field_validator("callback_url")
    @classmethod
    def _callback(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value
