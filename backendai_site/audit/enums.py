"""Vocabularies of the audit log."""

from __future__ import annotations

from django.db import models


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"

    @classmethod
    def from_status(cls, status_code: int) -> AuditOutcome:
        """2xx/3xx succeeded, 401/403 were refused, anything else failed."""
        if 200 <= status_code < 400:
            return cls.SUCCESS
        if status_code in (401, 403):
            return cls.DENIED
        return cls.FAILURE
