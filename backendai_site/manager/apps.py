from __future__ import annotations

from django.apps import AppConfig


class ManagerConfig(AppConfig):
    name = "backendai_site.manager"
    label = "manager"
    verbose_name = "Manager state and error logs"
