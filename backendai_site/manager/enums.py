"""Vocabularies of the manager package."""

from __future__ import annotations

from django.db import models


class ManagerStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FROZEN = "frozen", "Frozen"


class SchedulerOperation(models.TextChoices):
    INCLUDE_AGENTS = "include-agents", "Include agents in scheduling"
    EXCLUDE_AGENTS = "exclude-agents", "Exclude agents from scheduling"


class ErrorLogSeverity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"
    DEBUG = "debug", "Debug"
