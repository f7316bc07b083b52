from __future__ import annotations

from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "storage_app"
    verbose_name = "Storage"
