"""Cloning a folder: a new folder row at once (status `cloning`), the copy in a Celery task."""

from __future__ import annotations

import logging
import time
import uuid

from celery import current_app
from django.db import transaction

from backendai_site.accounts.models import User
from backendai_site.common.bgtask import bgtask_publish, bgtask_register
from backendai_site.common.vfolder_host_permissions import VFolderHostPermission
from storage_app.enums import VFolderPermissionMode, VFolderStatus
from storage_app.errors import VFolderPermissionDenied
from storage_app.host_permissions import host_permission_require
from storage_app.models import VFolder
from storage_app.selectors import VFolderAccess

from .folders import VFolderCreate, vfolder_create, vfolder_status_move, vfolder_usage_refresh
from .transfer import quota_check
from .volumes import volume_backend

log = logging.getLogger(__name__)

CLONE_TASK = "storage_app.vfolder_clone"
PROGRESS_INTERVAL = 0.5


def vfolder_clone_start(
    *,
    user: User,
    access: VFolderAccess,
    target_name: str,
    target_host: str | None,
    usage_mode: str,
    permission: str,
) -> tuple[uuid.UUID, VFolder]:
    """Check, create the target (status `cloning`) and enqueue the copy; returns the task id."""
    source = access.vfolder
    access.require(VFolderPermissionMode.READ_ONLY)
    host_permission_require(user=user, host=source.host, permission=VFolderHostPermission.CLONE)
    if not source.cloneable and not access.is_owner:
        raise VFolderPermissionDenied("The folder does not allow cloning.")
    target = vfolder_create(
        user=user,
        request=VFolderCreate(
            name=target_name, host=target_host or source.host, usage_mode=usage_mode,
            permission=permission,
        ),
    )  # fmt: skip
    quota_check(target, adding=source.cur_size)
    vfolder_status_move(target, VFolderStatus.CLONING)
    task_id = bgtask_register(owner_id=user.pk)
    kwargs = {"task_id": str(task_id), "source_id": str(source.pk), "target_id": str(target.pk)}
    transaction.on_commit(lambda: current_app.send_task(CLONE_TASK, kwargs=kwargs, queue="manager"))
    log.info("vfolder clone queued", extra={"vfolder_id": str(source.pk), "task_id": str(task_id)})
    return task_id, target


def vfolder_clone_run(*, task_id: str, source_id: str, target_id: str) -> None:
    """Copy the files, publishing progress; the target becomes `ready` (or `delete-error`)."""
    source = VFolder.objects.select_related("volume").get(pk=source_id)
    target = VFolder.objects.select_related("volume").get(pk=target_id)
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL or done >= total:
            last = now
            bgtask_publish(task_id, "bgtask_updated", {
                "current_progress": done, "total_progress": total,
                "message": f"copied {done} of {total} bytes",
            })  # fmt: skip

    try:
        if source.volume_id != target.volume_id:
            raise OSError("cloning across volumes is not supported yet")
        volume_backend(source.volume).folder_clone(
            src_scope_id=source.quota_scope_id, src_id=source.pk,
            dst_scope_id=target.quota_scope_id, dst_id=target.pk, progress=progress,
        )  # fmt: skip
    except OSError as exc:
        with transaction.atomic():
            vfolder_status_move(
                VFolder.objects.select_for_update().get(pk=target.pk), VFolderStatus.DELETE_ERROR
            )
        bgtask_publish(task_id, "bgtask_failed", {"message": f"clone failed: {exc}"})
        log.warning("vfolder clone failed", extra={"task_id": task_id, "error": str(exc)})
        return
    vfolder_usage_refresh(target)
    with transaction.atomic():
        vfolder_status_move(
            VFolder.objects.select_for_update().get(pk=target.pk), VFolderStatus.READY
        )
    bgtask_publish(task_id, "bgtask_done", {"message": "clone complete"})
    log.info("vfolder cloned", extra={"task_id": task_id, "vfolder_id": str(target.pk)})
