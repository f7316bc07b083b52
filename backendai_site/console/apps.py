from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "backendai_site.console"
    label = "console"
    verbose_name = "Admin console"
