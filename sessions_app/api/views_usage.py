"""The usage ledger over HTTP: the reference's `GET /resource/usage/month`, `/resource/usage/period`
and `/resource/stats/user/month`, plus our `GET /resource/usage/totals` and the streamed CSV
`GET /resource/usage/export.csv`. Thin views over `sessions_app.selectors_usage*`; who sees which
rows is `selectors_usage.usage_scope`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from pydantic import BaseModel, ConfigDict, Field, field_validator
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair, User
from backendai_site.common.api.payloads import payload_parse
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.validation import Text64
from sessions_app.models import UsageInterval
from sessions_app.selectors_usage import usage_csv_stream, usage_rows, usage_totals
from sessions_app.selectors_usage_compat import (
    usage_month_bounds,
    usage_per_month,
    usage_per_period,
    usage_period_bounds,
    user_month_stats,
)

_TOTALS_BY = {
    "user": ("user_id", "user_email"),
    "project": ("project_id", "project_name"),
    "domain": ("domain_name",),
    "resource_group": ("resource_group",),
    "kernel": ("kernel_id", "session_name", "user_email"),
}


def _actor(request: Request) -> User:
    keypair = request.auth
    assert isinstance(keypair, KeyPair)
    return keypair.user


class MonthQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(max_length=16)
    group_ids: str = Field(default="", max_length=4096)

    def group_uuids(self) -> list[UUID] | None:
        try:
            ids = [UUID(part.strip()) for part in self.group_ids.split(",") if part.strip()]
        except ValueError:
            raise InvalidAPIParameters("group_ids must be comma-separated project UUIDs") from None
        return ids or None


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: str = Field(max_length=16)
    end_date: str = Field(max_length=16)
    group_id: UUID | None = None
    project_id: UUID | None = None


class ScopeQuery(BaseModel):
    """A period (`month=yyyymm`, or `start_date`/`end_date` as yyyymmdd) and an optional scope."""

    model_config = ConfigDict(extra="forbid")

    month: str | None = Field(default=None, max_length=16)
    start_date: str | None = Field(default=None, max_length=16)
    end_date: str | None = Field(default=None, max_length=16)
    project_id: UUID | None = None
    user_id: UUID | None = None
    domain: Text64 | None = None
    resource_group: Text64 | None = None

    @field_validator("month", "start_date", "end_date", "domain", "resource_group")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    def bounds(self) -> tuple[datetime, datetime]:
        if self.month is not None:
            if self.start_date or self.end_date:
                raise InvalidAPIParameters("give either month or start_date/end_date, not both")
            return usage_month_bounds(self.month)
        if self.start_date is None or self.end_date is None:
            raise InvalidAPIParameters("give month=yyyymm or start_date and end_date (yyyymmdd)")
        return usage_period_bounds(self.start_date, self.end_date)


class TotalsQuery(ScopeQuery):
    by: Literal["user", "project", "domain", "resource_group", "kernel"] = "user"


def _scope_rows(
    request: Request, query: ScopeQuery, bounds: tuple[datetime, datetime]
) -> QuerySet[UsageInterval]:
    start, end = bounds
    return usage_rows(
        actor=_actor(request),
        start=start,
        end=end,
        project_ids=[query.project_id] if query.project_id else None,
        user_id=query.user_id,
        domain_name=query.domain,
        resource_group=query.resource_group,
    )


class UsageMonthView(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = payload_parse(MonthQuery, request.query_params.dict(), what="usage query")
        return Response(
            usage_per_month(actor=_actor(request), month=query.month, group_ids=query.group_uuids())
        )


class UsagePeriodView(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = payload_parse(PeriodQuery, request.query_params.dict(), what="usage query")
        return Response(
            usage_per_period(
                actor=_actor(request),
                project_id=query.project_id or query.group_id,
                start_date=query.start_date,
                end_date=query.end_date,
            )
        )


class UserMonthStatsView(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(user_month_stats(actor=_actor(request)))


class UsageTotalsView(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = payload_parse(TotalsQuery, request.query_params.dict(), what="usage query")
        columns = _TOTALS_BY[query.by]
        items = []
        for total in usage_totals(_scope_rows(request, query, query.bounds()), by=columns):
            items.append(
                {
                    **{c: str(v) for c, v in zip(columns, total.key, strict=True)},
                    "kernels": total.kernels,
                    "seconds": str(total.seconds),
                    "slot_seconds": {k: str(v) for k, v in sorted(total.slot_seconds.items())},
                    "slot_hours": {
                        k: str(round(v, 6)) for k, v in sorted(total.slot_hours().items())
                    },
                }
            )
        return Response({"by": query.by, "items": items})


class UsageExportView(APIView):
    @extend_schema(request=None, responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request) -> StreamingHttpResponse:
        query = payload_parse(ScopeQuery, request.query_params.dict(), what="usage query")
        start, end = query.bounds()
        rows = _scope_rows(request, query, (start, end))
        response = StreamingHttpResponse(usage_csv_stream(rows), content_type="text/csv")
        filename = f"usage-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
