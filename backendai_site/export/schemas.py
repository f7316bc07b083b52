"""The bodies of `POST /export/<report>/csv`, as the official client 26.9.6 sends them
(`ai.backend.common.dto.manager.v2.export.request`). Unknown keys are refused, so a filter this
server does not know is a 400 rather than silently ignored."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from backendai_site.common.api.query_filters import StringFilter, UUIDFilter
from backendai_site.common.validation import Text64

# The encodings a CSV may be written in: the reference documents utf-8 and euc-kr.
ENCODINGS = {"utf-8": "utf-8", "euc_kr": "euc-kr", "cp949": "cp949"}
FieldKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OrderDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


class DateTimeRangeFilter(_Input):
    """Both bounds inclusive; a datetime without an offset is read as UTC."""

    after: datetime | None = None
    before: datetime | None = None

    @field_validator("after", "before")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> DateTimeRangeFilter:
        if self.after and self.before and self.after > self.before:
            raise ValueError("after must not be later than before")
        return self


ValueList = Annotated[list[Text64], Field(max_length=100)]


class UserExportFilter(_Input):
    username: StringFilter | None = None
    email: StringFilter | None = None
    domain_name: StringFilter | None = None
    role: ValueList | None = None
    status: ValueList | None = None
    created_at: DateTimeRangeFilter | None = None


class SessionExportUserNestedFilter(_Input):
    email: StringFilter | None = None
    username: StringFilter | None = None


class SessionExportFilter(_Input):
    name: StringFilter | None = None
    session_type: ValueList | None = None
    domain_name: StringFilter | None = None
    access_key: StringFilter | None = None
    user: SessionExportUserNestedFilter | None = None
    status: ValueList | None = None
    scaling_group_name: StringFilter | None = None
    created_at: DateTimeRangeFilter | None = None
    terminated_at: DateTimeRangeFilter | None = None


class ProjectExportFilter(_Input):
    name: StringFilter | None = None
    domain_name: StringFilter | None = None
    is_active: bool | None = None
    created_at: DateTimeRangeFilter | None = None


class AuditLogExportFilter(_Input):
    entity_type: StringFilter | None = None
    entity_id: StringFilter | None = None
    operation: StringFilter | None = None
    status: ValueList | None = None
    triggered_by: StringFilter | None = None
    acted_as: UUIDFilter | None = None
    request_id: StringFilter | None = None
    created_at: DateTimeRangeFilter | None = None


class ExportOrder(_Input):
    """`field` is checked against the report's orderable fields (a 400 naming them)."""

    field: FieldKey
    direction: OrderDirection = OrderDirection.ASC

    @field_validator("direction", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class ExportCSVInput(_Input):
    """The fields of every report's body; `filter` is parsed by the report's own model."""

    fields: list[FieldKey] | None = Field(default=None, max_length=200)
    filter: dict[str, object] | None = None
    order: list[ExportOrder] | None = Field(default=None, max_length=20)
    encoding: Text64 = "utf-8"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            name = codecs.lookup(value).name
        except LookupError:
            name = ""
        if name not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(sorted(ENCODINGS.values()))}")
        return ENCODINGS[name]
