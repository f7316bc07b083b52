from __future__ import annotations

from django.apps import AppConfig


class ExportConfig(AppConfig):
    name = "backendai_site.export"
    label = "export"
    verbose_name = "CSV export"
