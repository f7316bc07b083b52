"""Manager-wide state every web process shares (freeze, announcement) and the error log."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models

from .enums import ErrorLogSeverity, ManagerStatus


class ManagerState(models.Model):
    """One row (pk 1): read by every web process, so a freeze is seen everywhere at once."""

    SINGLETON_PK: ClassVar[int] = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    status = models.CharField(
        max_length=16, choices=ManagerStatus.choices, default=ManagerStatus.RUNNING
    )
    status_changed = models.DateTimeField(null=True, blank=True)
    announcement_enabled = models.BooleanField(default=False)
    announcement_message = models.TextField(blank=True, default="")
    announcement_set = models.BooleanField(
        default=False,
        editable=False,
        help_text="Set once an admin posted an announcement; until then BAI_ANNOUNCEMENT is shown.",
    )
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "manager state"
        verbose_name_plural = "manager state"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="manager_state_singleton")
        ]

    def __str__(self) -> str:
        return f"manager {self.status}"


class ErrorLog(models.Model):
    """An error the API answered with a 5xx, or one a client reported (`POST /logs/error`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    severity = models.CharField(max_length=16, choices=ErrorLogSeverity.choices)
    source = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="error_logs",
    )
    is_read = models.BooleanField(default=False)
    is_cleared = models.BooleanField(default=False)
    message = models.TextField()
    context_lang = models.CharField(max_length=64)
    context_env = models.JSONField(default=dict, blank=True)
    request_url = models.CharField(max_length=2048, blank=True, default="")
    request_status = models.IntegerField(null=True, blank=True)
    traceback = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.severity} {self.source}: {self.message[:60]}"
