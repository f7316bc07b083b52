"""The daemon's Celery side: its own Celery app, command tasks, event sending, replies.

The agent uses a Celery app of its own (no Django fix-up, no task autodiscovery), so its worker
knows only the agent commands and never imports manager code. Broker settings come from Django
settings (loaded for Celery configuration only).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery
from pydantic import BaseModel

from agents_app.enums import EVENTS_QUEUE, AgentCommand, agent_queue_name
from agents_app.schemas import CommandReply, Message

if TYPE_CHECKING:
    from .daemon import AgentDaemon

log = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 300


def make_agent_celery(*, agent_id: str, broker_url: str) -> Celery:
    app = Celery(f"bai-agent-{agent_id}", broker=broker_url, fixups=[], set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=agent_queue_name(agent_id),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        enable_utc=True,
    )
    return app


def register_commands(app: Celery, daemon: AgentDaemon) -> None:
    """One task `agent.<command>` per command, each calling the daemon's handler."""
    for command in AgentCommand:

        def run(payload: dict[str, Any], _command: str = command.value) -> None:
            daemon.handle(_command, payload)

        app.task(name=command.task_name, ignore_result=True)(run)


class CeleryEventSender:
    """Sends `agents_app.<event>` tasks to the manager's `events` queue."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send(self, event: str, payload: Message | dict[str, Any]) -> None:
        body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        if event == "agent_terminated":
            # Sent after the worker stopped: the pooled connection may belong to the worker's
            # (stopped) event loop and never flush, so publish on a fresh connection.
            with self.app.connection_for_write() as connection:
                self.app.send_task(
                    f"agents_app.{event}", args=[body], queue=EVENTS_QUEUE, connection=connection
                )
            return
        self.app.send_task(f"agents_app.{event}", args=[body], queue=EVENTS_QUEUE)


class RedisReplier:
    """Pushes command replies to the Redis list the caller named in `reply_to`."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=10)

    def reply(self, reply_to: str, reply: CommandReply) -> None:
        pipe = self.client.pipeline()
        pipe.rpush(reply_to, reply.model_dump_json())
        pipe.expire(reply_to, REPLY_TTL_SECONDS)
        pipe.execute()
