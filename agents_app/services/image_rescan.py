"""`admin image rescan` (the `rescan_images` mutation): refresh the image catalog from the
container registries and the agents' reported images as a background task whose progress goes
to `/events/background-task` (docs/compat/image-rescan.md).

Starting it asks the caller's role (superadmins only, like every other image change here) and
resolves the registries up front, so an unknown registry is refused before a task exists. The
task reports one step per registry plus one for the agents, then `bgtask_done` with the errors
the registries reported (the client prints each), or `bgtask_failed` if the scan itself broke.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import current_app
from django.db import transaction

from agents_app.models import ContainerRegistry
from backendai_site.accounts.models import User
from backendai_site.accounts.permissions import superadmin_require
from backendai_site.common.bgtask import bgtask_publish, bgtask_register
from backendai_site.common.errors import NotFound

from .images import ScanResult, images_rescan_from_agents
from .registry import registries_rescan

log = logging.getLogger(__name__)

RESCAN_TASK = "agents_app.images_rescan"


def _registries(registry: str | None, project: str | None) -> list[ContainerRegistry]:
    qs = ContainerRegistry.objects.filter(is_active=True).order_by("name", "project")
    if registry:
        qs = qs.filter(name=registry)
        if project:
            qs = qs.filter(project=project)
        found = list(qs)
        if not found:
            where = f"{registry!r}" + (f" with project {project!r}" if project else "")
            raise NotFound(f"no active container registry {where}")
        return found
    return list(qs)


def images_rescan_start(*, actor: User, registry: str | None, project: str | None) -> uuid.UUID:
    """Queue the rescan of one registry (or all, and the agents' images) and return its task id."""
    superadmin_require(actor, to="rescan images")
    registries = _registries(registry or None, project or None)
    task_id = bgtask_register(owner_id=actor.pk)
    kwargs: dict[str, Any] = {
        "task_id": str(task_id),
        "registry_ids": [r.pk for r in registries],
        "include_agents": not registry,
    }
    transaction.on_commit(lambda: current_app.send_task(RESCAN_TASK, kwargs=kwargs))
    log.info(
        "image rescan queued",
        extra={"task_id": str(task_id), "registries": [r.name for r in registries]},
    )
    return task_id


def images_rescan_run(*, task_id: str, registry_ids: list[int], include_agents: bool) -> ScanResult:
    registries = list(ContainerRegistry.objects.filter(pk__in=registry_ids).order_by("name"))
    total = len(registries) + (1 if include_agents else 0)
    done = created = updated = 0
    errors: list[str] = []

    def step(message: str, result: ScanResult) -> None:
        nonlocal done, created, updated
        done += 1
        created += result.created
        updated += result.updated
        bgtask_publish(task_id, "bgtask_updated", {
            "current_progress": done, "total_progress": total, "message": message,
        })  # fmt: skip

    try:
        for registry in registries:
            result = registries_rescan(registries=[registry])[registry.name]
            errors.extend(f"{registry.name}: {error}" for error in result.errors)
            step(f"{registry.name}: {result.created} new, {result.updated} updated", result)
        if include_agents:
            result = images_rescan_from_agents()
            errors.extend(f"agents: {error}" for error in result.errors)
            step(f"agents: {result.created} new, {result.updated} updated", result)
    except Exception as exc:
        bgtask_publish(task_id, "bgtask_failed", {"message": f"rescan failed: {exc}"})
        log.exception("image rescan failed", extra={"task_id": task_id})
        raise
    bgtask_publish(task_id, "bgtask_done", {
        "message": f"{created} new, {updated} updated", "errors": errors,
    })  # fmt: skip
    log.info("images rescanned", extra={"task_id": task_id, "scan_errors": errors})
    return ScanResult(created=created, updated=updated, errors=errors)
