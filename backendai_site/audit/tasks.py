"""Celery tasks of the audit log: thin callers of the services."""

from __future__ import annotations

from celery import shared_task

from backendai_site.config import get_config

from .services import audit_entries_purge


@shared_task(name="audit.audit_log_purge")
def audit_log_purge() -> int:
    """Beat: delete audit entries older than `BAI_AUDIT_RETENTION_DAYS`."""
    config = get_config().audit
    return audit_entries_purge(
        retention_days=config.retention_days, batch_size=config.purge_batch_size
    )
