from __future__ import annotations

from django.urls import path

from .views import ExportCSVView, ExportReportDetailView, ExportReportListView

urlpatterns = [
    path("export/reports", ExportReportListView.as_view(), name="export-reports"),
    path(
        "export/reports/<str:report_key>",
        ExportReportDetailView.as_view(),
        name="export-report",
    ),
    path("export/<str:report_key>/csv", ExportCSVView.as_view(), name="export-csv"),
]
