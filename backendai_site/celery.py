"""The Celery app shared by the manager worker, beat and the agents (JSON only)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backendai_site.settings")

app = Celery("backendai_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
