"""Console logs: a session's kernels (`GET /session/{ref}/logs`) and tasks
(`GET /session/_/logs?taskId=`, `backend.ai task-logs`).

A kernel's log is its container's log, asked from the agent while it is alive: the runner
writes a batch command's stdout and stderr there, so a batch session's log shows its output
after the session ended (the agent keeps the log of a removed container). When the agent is
gone or does not answer, the copy kept on the kernel row (the batch output, saved by
`batch.py`) is served instead.

A task is a background task (`backendai_site.common.bgtask`: folder clones and the like, its
progress events as lines) or a batch task, named by its kernel's or its session's id (the
reference names kernels "tasks" here). Others' tasks are answered as unknown.
"""

from __future__ import annotations

import json
import logging
import uuid

from agents_app.enums import AgentStatus
from agents_app.errors import AgentNotResponding
from agents_app.schemas import GetLogs
from agents_app.services.commands import agent_command_call
from backendai_site.accounts.models import KeyPair
from backendai_site.common.bgtask import bgtask_owner, bgtask_replay_key
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.redis import get_redis
from sessions_app.enums import KernelStatus, SessionAction
from sessions_app.errors import TaskNotFound
from sessions_app.models import Kernel, Session
from sessions_app.selectors import sessions_for

log = logging.getLogger(__name__)


def kernel_logs_fetch(*, kernel: Kernel) -> str:
    """The container's log from the agent, else the copy kept on the kernel."""
    agent = kernel.agent
    if agent is None or agent.status != AgentStatus.ALIVE:
        return kernel.logs
    if kernel.status in (KernelStatus.PENDING, KernelStatus.CANCELLED):
        return kernel.logs
    try:
        reply = agent_command_call(
            agent_id=str(kernel.agent_id),
            command="get_logs",
            payload=GetLogs(kernel_id=str(kernel.pk), session_id=str(kernel.session_id)),
        )
    except AgentNotResponding:
        log.warning("agent did not answer get_logs", extra={"kernel_id": str(kernel.pk)})
        return kernel.logs
    if reply.ok and isinstance(reply.result, dict):
        return str(reply.result.get("logs", "")) or kernel.logs
    return kernel.logs


def session_logs(*, session: Session, kernel_id: str | None) -> str:
    """The log of one kernel of `session` (its main kernel unless `kernel_id` names one)."""
    kernels = session.kernels.select_related("agent").order_by("cluster_idx")
    if kernel_id:
        try:
            kernel = kernels.filter(pk=uuid.UUID(kernel_id)).first()
        except ValueError:
            raise InvalidAPIParameters("kernel_id must be a kernel's UUID.") from None
    else:
        kernel = kernels.first()
    if kernel is None:
        raise InvalidAPIParameters("No such kernel in this session.")
    return kernel_logs_fetch(kernel=kernel)


def _bgtask_lines(task_id: uuid.UUID) -> str:
    lines = []
    for raw in get_redis().lrange(bgtask_replay_key(task_id), 0, -1):
        try:
            message = json.loads(raw)
            event, data = str(message["event"]), dict(message.get("data") or {})
        except (ValueError, KeyError, TypeError):
            continue
        parts = [event]
        if "current_progress" in data:
            parts.append(f"{data['current_progress']}/{data.get('total_progress', '?')}")
        if data.get("message"):
            parts.append(str(data["message"]))
        lines.append(" ".join(parts) + "\n")
    return "".join(lines)


def task_logs(*, requester: KeyPair, task_id: str | None) -> str:
    """The log of a task the requester may see (TaskNotFound for anyone else's)."""
    if not task_id:
        raise InvalidAPIParameters("Name the task (?taskId=...).")
    try:
        task_uuid = uuid.UUID(task_id)
    except ValueError:
        raise InvalidAPIParameters("taskId must be a task's UUID.") from None
    owner = bgtask_owner(task_uuid)
    if owner is not None:
        if owner != str(requester.user_id):
            raise TaskNotFound("No such task of yours.")
        return _bgtask_lines(task_uuid)
    visible = sessions_for(requester, SessionAction.VIEW)
    kernel = (
        Kernel.objects.select_related("agent")
        .filter(session__in=visible)
        .filter(pk=task_uuid)
        .first()
    ) or (
        Kernel.objects.select_related("agent")
        .filter(session__in=visible, session_id=task_uuid)
        .order_by("cluster_idx")
        .first()
    )
    if kernel is None:
        raise TaskNotFound("No such task of yours.")
    return kernel_logs_fetch(kernel=kernel)
