"""Sending commands to agents over their Celery queues (`agent.<id>`).

Commands are fire-and-forget Celery tasks named `agent.<command>` with one JSON argument (a
pydantic `Command` dumped to JSON). Outcomes come back as events on the `events` queue. For
the few commands whose answer the caller waits for (logs, file lists), `agent_command_call`
passes a Redis list name in `reply_to`; the agent pushes one JSON `CommandReply` there.
"""

from __future__ import annotations

import logging
import uuid

from agents_app.enums import AgentCommand, agent_queue_name
from agents_app.errors import AgentNotResponding
from agents_app.schemas import Command, CommandReply
from backendai_site.celery import app
from backendai_site.common.redis import get_redis
from backendai_site.config import get_config

log = logging.getLogger(__name__)

REPLY_KEY_PREFIX = "bai:agent-reply:"


def agent_command_send(*, agent_id: str, command: AgentCommand | str, payload: Command) -> None:
    """Queue `command` for `agent_id` (call inside `transaction.on_commit` when it follows a
    write)."""
    try:
        task_name = AgentCommand(command).task_name
    except ValueError:
        raise ValueError(f"unknown agent command: {command}") from None
    app.send_task(
        task_name,
        args=[payload.model_dump(mode="json")],
        queue=agent_queue_name(agent_id),
    )
    log.info("agent command sent", extra={"agent_id": agent_id, "command": command})


def agent_command_call(
    *, agent_id: str, command: AgentCommand | str, payload: Command, timeout: float | None = None
) -> CommandReply:
    """Send `command` and wait for the agent's reply (raises AgentNotResponding)."""
    if timeout is None:
        timeout = get_config().agents.command_reply_timeout
    reply_to = f"{REPLY_KEY_PREFIX}{uuid.uuid4().hex}"
    agent_command_send(
        agent_id=agent_id,
        command=command,
        payload=payload.model_copy(update={"reply_to": reply_to}),
    )
    answer = get_redis().blpop([reply_to], timeout=max(1, round(timeout)))
    if answer is None:
        raise AgentNotResponding(f"agent {agent_id} did not answer {command} in {timeout}s")
    return CommandReply.model_validate_json(answer[1])
