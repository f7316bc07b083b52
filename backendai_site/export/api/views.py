"""`/export/*`: the report catalogue and the streamed CSV of each report, as the official
client's `admin export` commands call them (docs/compat/export.md). Thin views over
`backendai_site.export.selectors`; who may export is `selectors.export_actor_check`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import User
from backendai_site.common.api.payloads import payload_parse
from backendai_site.export.reports import REPORTS, ExportReport, export_report_get
from backendai_site.export.schemas import ExportCSVInput
from backendai_site.export.selectors import export_actor_check, export_rows
from backendai_site.export.streaming import export_csv_blocks, export_csv_stream

FILENAME_HEADER = "X-Export-Filename"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]+")


def _actor(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _report_info(report: ExportReport) -> dict[str, Any]:
    return {
        "report_key": report.key,
        "name": report.name,
        "description": report.description,
        "fields": [
            {
                "key": f.key,
                "name": f.name,
                "description": f.description,
                "field_type": str(f.field_type),
            }
            for f in report.fields
        ],
    }


def _filename(request: Request, report: ExportReport) -> str:
    """`X-Export-Filename` with anything but letters, digits, `._ -` dropped (no quotes, no
    path), else `<report>-<UTC timestamp>.csv` like the reference."""
    asked = _UNSAFE_FILENAME.sub("", request.headers.get(FILENAME_HEADER, "")).strip(" .")[:128]
    return asked or f"{report.key}-{datetime.now(tz=UTC):%Y%m%d%H%M%S}.csv"


class ExportReportListView(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        export_actor_check(actor=_actor(request))
        return Response({"reports": [_report_info(r) for r in REPORTS]})


class ExportReportDetailView(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, report_key: str) -> Response:
        export_actor_check(actor=_actor(request))
        return Response({"report": _report_info(export_report_get(key=report_key))})


class ExportCSVView(APIView):
    """The report's rows as CSV (`Content-Disposition: attachment`); every check (role, body,
    fields, filters, orders) runs before the first byte, so a refusal is a plain 4xx."""

    @extend_schema(request=ExportCSVInput, responses={(200, "text/csv"): OpenApiTypes.STR})
    def post(self, request: Request, report_key: str) -> StreamingHttpResponse:
        actor = _actor(request)
        export_actor_check(actor=actor)
        report = export_report_get(key=report_key)
        data = request.data if request.data else {}
        body = payload_parse(ExportCSVInput, data, what="export request")
        fields, rows = export_rows(report=report, actor=actor, body=body)
        blocks = export_csv_blocks(fields, rows, encoding=body.encoding)
        response = StreamingHttpResponse(
            export_csv_stream(blocks), content_type=f"text/csv; charset={body.encoding}"
        )
        response["Content-Disposition"] = f'attachment; filename="{_filename(request, report)}"'
        return response
