"""The audit log's one append-only table (no foreign keys: a row outlives what it names)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .enums import AuditOutcome

# column widths; longer values are cut when recorded (services.audit_entry_record)
ACTION_MAX = 255
TARGET_ID_MAX = 255
PATH_MAX = 2048
REQUEST_ID_MAX = 64


class AuditLogEntry(models.Model):
    """One mutating request: who (copied at write time), for whom, what, and how it ended."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField(max_length=REQUEST_ID_MAX, db_index=True)
    # the actor; empty (and user_id null) for an anonymous or unauthenticated caller
    user_id = models.UUIDField(null=True, blank=True)
    user_email = models.CharField(max_length=254, blank=True, default="")
    role = models.CharField(max_length=16, blank=True, default="")
    domain_name = models.CharField(max_length=64, blank=True, default="")
    access_key = models.CharField(max_length=20, blank=True, default="")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    # whom the request acted for: `owner_access_key` when given, else the actor
    acting_as_access_key = models.CharField(max_length=64, blank=True, default="")
    acting_as_email = models.CharField(max_length=254, blank=True, default="")
    # what
    action = models.CharField(max_length=ACTION_MAX, db_index=True)
    view_name = models.CharField(max_length=ACTION_MAX, blank=True, default="")
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=TARGET_ID_MAX, blank=True, default="")
    # how it ended
    outcome = models.CharField(max_length=16, choices=AuditOutcome.choices)
    status_code = models.PositiveSmallIntegerField()
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=PATH_MAX)

    class Meta:
        ordering = ("-at", "-id")
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log entries"
        indexes = (
            models.Index(fields=("domain_name", "at"), name="audit_domain_at_idx"),
            models.Index(fields=("target_type", "target_id"), name="audit_target_idx"),
            models.Index(fields=("user_email",), name="audit_user_email_idx"),
        )

    def __str__(self) -> str:
        who = self.user_email or "anonymous"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.outcome}"
