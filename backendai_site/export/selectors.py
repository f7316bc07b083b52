"""Reads of the CSV export: who may export, and a report's rows as a permission-scoped,
filtered, ordered `values_list` queryset (one query per block of rows, whatever is selected)."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q, QuerySet
from pydantic import BaseModel

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.common.api.payloads import payload_parse
from backendai_site.common.api.query_filters import StringFilter, UUIDFilter, string_filter_q
from backendai_site.common.errors import InvalidAPIParameters, PermissionDenied

from .reports import ExportField, ExportFilter, ExportReport, FilterKind
from .schemas import DateTimeRangeFilter, ExportCSVInput

# Roles that may export: a superadmin every row, a domain admin its own domain's (the
# reference lets superadmins only; monitors and plain users are refused).
EXPORT_ROLES = frozenset({UserRole.SUPERADMIN, UserRole.ADMIN})


def export_actor_check(*, actor: User) -> None:
    """Exports are for superadmins and domain admins; anyone else is refused (403)."""
    if actor.role not in EXPORT_ROLES or not actor.is_active:
        raise PermissionDenied(f"a {actor.role} may not export reports")


def _dates_q(source: str, spec: DateTimeRangeFilter) -> Q:
    q = Q()
    if spec.after is not None:
        q &= Q(**{f"{source}__gte": spec.after})
    if spec.before is not None:
        q &= Q(**{f"{source}__lte": spec.before})
    return q


def _values_q(name: str, rule: ExportFilter, values: list[str]) -> Q:
    by_folded = {choice.casefold(): choice for choice in rule.choices}
    unknown = [v for v in values if v.casefold() not in by_folded]
    if unknown:
        raise InvalidAPIParameters(
            f"filter.{name}: unknown value(s) {unknown}; known: {', '.join(rule.choices)}",
            data={f"filter.{name}": unknown},
        )
    return Q(**{f"{rule.source}__in": [by_folded[v.casefold()] for v in values]})


def _filter_q(report: ExportReport, spec: BaseModel, prefix: str = "") -> Q:
    q = Q()
    for name in sorted(spec.model_fields_set):
        value = getattr(spec, name)
        if value is None:
            continue
        dotted = prefix + name
        rule = report.filters.get(dotted)
        if rule is None:
            if isinstance(value, BaseModel) and not isinstance(
                value, StringFilter | DateTimeRangeFilter | UUIDFilter
            ):
                q &= _filter_q(report, value, prefix=dotted + ".")
                continue
            raise InvalidAPIParameters(f"filter.{dotted} is not supported by this server")
        match rule.kind:
            case FilterKind.STRING:
                assert isinstance(value, StringFilter)
                q &= string_filter_q(rule.source, value)
            case FilterKind.DATETIME:
                assert isinstance(value, DateTimeRangeFilter)
                q &= _dates_q(rule.source, value)
            case FilterKind.VALUES:
                q &= _values_q(dotted, rule, list(value))
            case FilterKind.BOOLEAN:
                q &= Q(**{rule.source: bool(value)})
    return q


def export_fields_select(*, report: ExportReport, keys: list[str] | None) -> list[ExportField]:
    """The requested fields in the order asked (every field when none are), or a 400 naming
    the unknown keys."""
    if not keys:
        return list(report.fields)
    unknown = [key for key in keys if report.field_get(key) is None]
    if unknown:
        raise InvalidAPIParameters(
            f"Invalid field keys for report {report.key!r}: {unknown}",
            data={"fields": unknown},
        )
    return [f for key in keys if (f := report.field_get(key)) is not None]


def export_rows(
    *, report: ExportReport, actor: User, body: ExportCSVInput
) -> tuple[list[ExportField], QuerySet[Any]]:
    """The selected fields and the rows the actor may read as a `values_list` queryset,
    filtered and ordered as asked (the primary key last, so blocks never overlap)."""
    export_actor_check(actor=actor)
    fields = export_fields_select(report=report, keys=body.fields)
    qs = report.scope(actor)
    if body.filter:
        if report.filter_model is None:
            raise InvalidAPIParameters(f"the {report.key} report takes no filter")
        spec = payload_parse(report.filter_model, body.filter, what="filter")
        qs = qs.filter(_filter_q(report, spec))
    ordering: list[Any] = []
    for order in body.order or []:
        field = report.field_get(order.field)
        if field is None or order.field not in report.orderable:
            raise InvalidAPIParameters(
                f"cannot order the {report.key} report by {order.field!r}; "
                f"orderable: {', '.join(sorted(report.orderable))}",
                data={"order": order.field},
            )
        expr = F(field.source)
        ordering.append(
            expr.desc(nulls_last=True) if order.direction == "DESC" else expr.asc(nulls_last=True)
        )
    ordering.append("pk")
    return fields, qs.order_by(*ordering).values_list(*(f.source for f in fields))
