"""Celery tasks of the storage app: thin callers of the services."""

from __future__ import annotations

from celery import shared_task

from backendai_site.config import get_config
from storage_app.services.clone import vfolder_clone_run
from storage_app.services.folders import vfolders_usage_refresh_all
from storage_app.services.transfer import uploads_sweep


@shared_task(name="storage_app.vfolder_clone")
def vfolder_clone(task_id: str, source_id: str, target_id: str) -> None:
    vfolder_clone_run(task_id=task_id, source_id=source_id, target_id=target_id)


@shared_task(name="storage_app.vfolders_usage_refresh")
def vfolders_usage_refresh() -> int:
    """Re-measure live folders, and drop partial uploads whose tokens have expired."""
    uploads_sweep(older_than=get_config().storage.token_ttl)
    return vfolders_usage_refresh_all()
