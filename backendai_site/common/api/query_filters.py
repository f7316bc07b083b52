"""The search filters of the reference's `POST .../search` endpoints (`StringFilter`,
`UUIDFilter`), as pydantic models, and their translation into Django `Q` conditions.

Every operation the client may send is honoured: an unknown key is refused (400), never ignored.
"""

from __future__ import annotations

import uuid

from django.db.models import Q
from pydantic import BaseModel, ConfigDict, Field

from backendai_site.common.validation import Text256


class StringFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    equals: Text256 | None = None
    contains: Text256 | None = None
    starts_with: Text256 | None = None
    ends_with: Text256 | None = None
    not_equals: Text256 | None = None
    not_contains: Text256 | None = None
    not_starts_with: Text256 | None = None
    not_ends_with: Text256 | None = None
    i_equals: Text256 | None = None
    i_contains: Text256 | None = None
    i_starts_with: Text256 | None = None
    i_ends_with: Text256 | None = None
    i_not_equals: Text256 | None = None
    i_not_contains: Text256 | None = None
    i_not_starts_with: Text256 | None = None
    i_not_ends_with: Text256 | None = None
    in_: list[Text256] | None = Field(default=None, alias="in", max_length=1000)
    not_in: list[Text256] | None = Field(default=None, max_length=1000)
    i_in: list[Text256] | None = Field(default=None, max_length=1000)
    i_not_in: list[Text256] | None = Field(default=None, max_length=1000)


class UUIDFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    equals: uuid.UUID | None = None
    in_: list[uuid.UUID] | None = Field(default=None, alias="in", max_length=1000)
    not_equals: uuid.UUID | None = None
    not_in: list[uuid.UUID] | None = Field(default=None, max_length=1000)


# operation -> (Django lookup, negated)
_STRING_LOOKUPS: dict[str, tuple[str, bool]] = {
    "equals": ("exact", False),
    "contains": ("contains", False),
    "starts_with": ("startswith", False),
    "ends_with": ("endswith", False),
    "not_equals": ("exact", True),
    "not_contains": ("contains", True),
    "not_starts_with": ("startswith", True),
    "not_ends_with": ("endswith", True),
    "i_equals": ("iexact", False),
    "i_contains": ("icontains", False),
    "i_starts_with": ("istartswith", False),
    "i_ends_with": ("iendswith", False),
    "i_not_equals": ("iexact", True),
    "i_not_contains": ("icontains", True),
    "i_not_starts_with": ("istartswith", True),
    "i_not_ends_with": ("iendswith", True),
}


def _lowered_in(field: str, values: list[str]) -> Q:
    any_of = Q(pk__isnull=True)  # false: OR-ed with each value
    for value in values:
        any_of |= Q(**{f"{field}__iexact": value})
    return any_of


def string_filter_q(field: str, spec: StringFilter | None) -> Q:
    """Every operation set in `spec`, AND-ed, on `field` (a NULL never matches a positive one)."""
    condition = Q()
    if spec is None:
        return condition
    for operation, (lookup, negated) in _STRING_LOOKUPS.items():
        value = getattr(spec, operation)
        if value is None:
            continue
        match = Q(**{f"{field}__{lookup}": value})
        condition &= ~match if negated else match
    if spec.in_ is not None:
        condition &= Q(**{f"{field}__in": spec.in_})
    if spec.not_in is not None:
        condition &= ~Q(**{f"{field}__in": spec.not_in})
    if spec.i_in is not None:
        condition &= _lowered_in(field, spec.i_in)
    if spec.i_not_in is not None:
        condition &= ~_lowered_in(field, spec.i_not_in)
    return condition


def uuid_filter_q(field: str, spec: UUIDFilter | None) -> Q:
    condition = Q()
    if spec is None:
        return condition
    if spec.equals is not None:
        condition &= Q(**{field: spec.equals})
    if spec.in_ is not None:
        condition &= Q(**{f"{field}__in": spec.in_})
    if spec.not_equals is not None:
        condition &= ~Q(**{field: spec.not_equals})
    if spec.not_in is not None:
        condition &= ~Q(**{f"{field}__in": spec.not_in})
    return condition
