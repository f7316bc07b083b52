"""Saving a running session as a new local image (`/session/{ref}/commit` and `/imagify`).

The API marks, the agent acts: `session_commit` checks the request, registers a background task
(progress on `/events/background-task`) and, after the transaction commits, sends
`commit_kernel` to the agent of the session's main kernel. The agent reports
`kernel_commit_updated` and `kernel_committed`; agents_app records the new image in the catalog
before the handlers here turn those into `bgtask_updated` / `bgtask_done` / `bgtask_failed`, so
a client that saw `bgtask_done` finds the image in `image list`.

Committed images are local to the agent that made them (there is no registry to push to), named
`commit/<name>:<tag>` so that no commit can shadow a platform image; see
docs/compat/session-commit.md.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from agents_app.enums import AgentCommand
from agents_app.models import Image
from agents_app.runtime.models import COMMIT_STEPS
from agents_app.schemas import CommitKernel, KernelCommitted, KernelCommitUpdated
from agents_app.services.commands import agent_command_send
from backendai_site.accounts.models import KeyPair
from backendai_site.common.bgtask import bgtask_publish, bgtask_register
from sessions_app.enums import KernelRole, KernelStatus, SessionStatus
from sessions_app.errors import CommittedImageExists, InvalidImageName, SessionNotRunning
from sessions_app.models import Kernel, Session

log = logging.getLogger(__name__)

COMMIT_NAMESPACE = "commit"
# Docker's grammar for a repository path (lower-case components) and for a tag.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
IMAGE_NAME_RE = re.compile(
    rf"^(?P<name>{_COMPONENT}(?:/{_COMPONENT}){{0,2}})(?::(?P<tag>{_TAG}))?$"
)
MAX_IMAGE_NAME = 160
LABEL_SOURCE_SESSION = "ai.backend.commit.source-session"
LABEL_SOURCE_IMAGE = "ai.backend.commit.source-image"
LABEL_COMMITTED_BY = "ai.backend.commit.user"


@dataclass(frozen=True, slots=True)
class CommitStarted:
    task_id: uuid.UUID
    repository: str
    tag: str

    @property
    def image_ref(self) -> str:
        return f"{self.repository}:{self.tag}"


def commit_image_name(*, session: Session, image_name: str | None) -> tuple[str, str]:
    """(repository, tag) of the image a commit makes: `commit/<image_name>` (its tag, or a time
    stamp), or for a plain commit `commit/<session name, lower-cased>` with a time stamp."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    if image_name is None:
        slug = re.sub(r"[^a-z0-9]+", "-", session.name.lower()).strip("-") or "session"
        return f"{COMMIT_NAMESPACE}/{slug[:64]}", stamp
    match = IMAGE_NAME_RE.match(image_name) if len(image_name) <= MAX_IMAGE_NAME else None
    if match is None:
        raise InvalidImageName(
            "image_name must be NAME or NAME:TAG: lower-case letters, digits and . _ - in up to "
            "three /-separated parts, a tag of letters, digits and . _ - (no registry host).",
            data={"image_name": image_name[:MAX_IMAGE_NAME]},
        )
    return f"{COMMIT_NAMESPACE}/{match['name']}", match["tag"] or stamp


def _main_kernel(session: Session) -> Kernel:
    if session.status != SessionStatus.RUNNING:
        raise SessionNotRunning(
            f"Only a RUNNING session can be committed (this one is {session.status}).",
            data={"status": str(session.status)},
        )
    kernel = (
        session.kernels.filter(cluster_role=KernelRole.MAIN).select_related("agent").first()
        or session.kernels.select_related("agent").order_by("cluster_idx").first()
    )
    if kernel is None or kernel.status != KernelStatus.RUNNING or kernel.agent_id is None:
        raise SessionNotRunning("The session's main kernel is not running.")
    return kernel


def session_commit(
    *, session: Session, actor: KeyPair, image_name: str | None = None
) -> CommitStarted:
    """Start saving `session`'s main kernel as a new image; the caller follows the returned
    task on `/events/background-task` (the caller is its owner)."""
    kernel = _main_kernel(session)
    repository, tag = commit_image_name(session=session, image_name=image_name)
    if Image.objects.filter(registry=None, name=repository, tag=tag).exists():
        raise CommittedImageExists(
            f"The image {repository}:{tag} already exists.", data={"image": f"{repository}:{tag}"}
        )
    task_id = bgtask_register(owner_id=actor.user_id)
    started = CommitStarted(task_id=task_id, repository=repository, tag=tag)
    payload = CommitKernel(
        kernel_id=str(kernel.pk),
        session_id=str(session.pk),
        task_id=str(task_id),
        repository=repository,
        tag=tag,
        labels={
            LABEL_SOURCE_SESSION: str(session.pk),
            LABEL_SOURCE_IMAGE: session.image.canonical if session.image_id else "",
            LABEL_COMMITTED_BY: str(actor.user_id),
        },
    )
    agent_id = str(kernel.agent_id)
    bgtask_publish(
        task_id,
        "bgtask_updated",
        {"current_progress": 0, "total_progress": COMMIT_STEPS, "message": "commit requested"},
    )
    transaction.on_commit(
        lambda: agent_command_send(
            agent_id=agent_id, command=AgentCommand.COMMIT_KERNEL, payload=payload
        )
    )
    log.info(
        "session commit requested",
        extra={"session_id": str(session.pk), "task_id": str(task_id), "image": started.image_ref},
    )
    return started


def on_kernel_commit_updated(event: KernelCommitUpdated) -> None:
    bgtask_publish(
        event.task_id,
        "bgtask_updated",
        {
            "current_progress": event.current_progress,
            "total_progress": event.total_progress,
            "message": event.message,
        },
    )


def on_kernel_committed(event: KernelCommitted) -> None:
    """The end of a commit; the image is already in the catalog (agents_app recorded it)."""
    if event.ok and event.image is not None:
        bgtask_publish(
            event.task_id,
            "bgtask_done",
            {"message": f"committed as {event.image.ref}", "image": event.image.ref},
        )
        return
    bgtask_publish(event.task_id, "bgtask_failed", {"message": event.error or "commit failed"})
