"""Errors of the CSV export (stable types; the API's exception handler maps the kinds)."""

from __future__ import annotations

from backendai_site.common.errors import NotFound


class ExportReportNotFound(NotFound):
    error_type = "export-report-not-found"
    title = "Export report not found."
