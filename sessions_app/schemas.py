"""Request payloads of the sessions API (the official client's wire format, COMPAT.md 4.1)."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from dateutil import parser as date_parser
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from backendai_site.common.validation import NoNul, Text1K, Text64, Text64K, Text256

from .enums import ClusterMode, SessionType

_DURATION_RE = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,9})?)\s*([smhdw]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SESSION_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]{3,63}\Z")
# Environment names as a shell can set them: no '=' (it would end the name) and no NUL.
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,255}\Z")
ARCHITECTURE_PATTERN = r"^[a-z0-9_]{1,32}$"  # pydantic's regex: `$` is the very end
# Ten years: longer than any batch timeout or delayed start means a mistake, and the bound keeps
# `now + delay` and the database column far from overflowing.
MAX_DURATION_SECONDS = 10 * 366 * 86400
MAX_ENVIRON = 256
MAX_LIST = 64


def parse_duration_seconds(value: str | int | float) -> int:
    """Seconds from "3600", "1h", "30m", "45s", "1d" (at most MAX_DURATION_SECONDS)."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value[:64]!r} (expected e.g. 3600, 30m, 1h, 1d)")
        seconds = float(match[1]) * _DURATION_UNITS[match[2]]
    else:
        raise ValueError("not a duration (expected e.g. 3600, 30m, 1h, 1d)")
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"a duration must be at most {MAX_DURATION_SECONDS} seconds (10 years)")
    return int(seconds)


def parse_starts_at(value: str, now: datetime) -> datetime:
    """An ISO-8601 time, or a duration from now ("10m")."""
    try:
        return now + timedelta(seconds=parse_duration_seconds(value))
    except ValueError:
        pass
    try:
        parsed = date_parser.isoparse(value)
    except (ValueError, OverflowError):
        raise ValueError(f"not a time or duration: {value[:64]!r}") from None
    if parsed.tzinfo is None:
        raise ValueError("starts_at needs a timezone (e.g. 2026-01-01T00:00:00+00:00)")
    return parsed


def _environ_check(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not ENV_NAME_RE.match(name):
            raise ValueError(
                f"environment name {name[:64]!r} is not valid: letters, digits, '_', '.' and '-',"
                " starting with a letter or '_' (no '=')"
            )
    return value


Port = Annotated[int, Field(strict=True, ge=1024, le=65535)]


def _null_means_default(data: Any, keep: frozenset[str] = frozenset()) -> Any:
    """Drop the keys sent as JSON null: the SDK sends null for every argument left unset
    (`"environ": null` without `envs`), and the reference reads null as "use the default"."""
    if isinstance(data, dict):
        return {key: value for key, value in data.items() if value is not None or key in keep}
    return data


class MountOption(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "bind"
    permission: str | None = None
    subpath: str | None = None


class SessionConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    mounts: list[Text256] = Field(default_factory=list, max_length=MAX_LIST)
    mount_map: dict[Text256, Text256] = Field(default_factory=dict, max_length=MAX_LIST)
    mount_options: dict[Text256, MountOption] = Field(default_factory=dict, max_length=MAX_LIST)
    mount_ids: list[UUID] = Field(default_factory=list, max_length=MAX_LIST)
    mount_id_map: dict[Text256, Text256] = Field(default_factory=dict, max_length=MAX_LIST)
    environ: Annotated[
        dict[Text256, Text64K],
        Field(max_length=MAX_ENVIRON),
        AfterValidator(_environ_check),
    ] = Field(default_factory=dict)
    resources: dict[Text64, Any] = Field(default_factory=dict, max_length=MAX_LIST)
    resource_opts: dict[Text64, Any] = Field(default_factory=dict, max_length=MAX_LIST)
    scaling_group: Text64 | None = Field(default=None, alias="scalingGroup")
    preopen_ports: list[Port] | None = Field(default=None, max_length=MAX_LIST)
    agent_list: list[Text64] | None = Field(default=None, alias="agentList", max_length=MAX_LIST)
    # The reference attaches a session to a user-made network; there are none here, so a
    # network asked for is refused rather than dropped (the SDK sends null when none is given).
    attach_network: Text64 | None = Field(default=None, alias="attachNetwork")

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        return _null_means_default(data)

    @field_validator("attach_network")
    @classmethod
    def _no_networks(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("attaching a session to a network is not supported by this server")
        return value


class SessionCreateRequest(BaseModel):
    """`POST /session`, accepting the client's camelCase and snake_case keys."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    image: Annotated[str, StringConstraints(min_length=1, max_length=512), NoNul]
    name: Text64 | None = Field(default=None, alias="name")
    session_type: SessionType = Field(default=SessionType.INTERACTIVE, alias="type")
    tag: Text64 | None = None
    config: SessionConfig = Field(default_factory=SessionConfig)
    domain: Text64 | None = None
    group: Text64 | None = None
    architecture: str | None = Field(default=None, max_length=32, pattern=ARCHITECTURE_PATTERN)
    cluster_size: int = Field(default=1, ge=1, le=64, alias="clusterSize")
    cluster_mode: ClusterMode = Field(default=ClusterMode.SINGLE_NODE, alias="clusterMode")
    enqueue_only: bool = Field(default=False, alias="enqueueOnly")
    max_wait_seconds: int = Field(default=0, ge=0, le=86400, alias="maxWaitSeconds")
    reuse_if_exists: bool = Field(default=True, alias="reuseIfExists")
    startup_command: Text64K | None = Field(default=None, alias="startupCommand")
    bootstrap_script: Text64K | None = None
    batch_timeout: int | None = None
    starts_at: Text64 | None = None
    priority: int = Field(default=10, ge=-(2**31), le=2**31 - 1)
    dependencies: list[UUID] | None = Field(default=None, max_length=MAX_LIST)
    callback_url: Text1K | None = None
    owner_access_key: Annotated[str, StringConstraints(max_length=20), NoNul] | None = None

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        # `image` stays: a null image is an error about the image, not a missing default.
        return _null_means_default(data, keep=frozenset({"image"}))

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
