"""Vocabularies of the agents app; each status enum owns its named status sets.

Free of Django models (the agent daemon imports it): the choices base is
`backendai_site.common.choices.TextChoices`, not `django.db.models.TextChoices`.
"""

from __future__ import annotations

from enum import StrEnum

from backendai_site.common.choices import TextChoices


class AgentStatus(TextChoices):
    ALIVE = "ALIVE", "Alive"
    LOST = "LOST", "Lost"
    RESTARTING = "RESTARTING", "Restarting"
    TERMINATED = "TERMINATED", "Terminated"

    @classmethod
    def available_statuses(cls) -> frozenset[AgentStatus]:
        """Agents the scheduler may place kernels on (when also schedulable)."""
        return frozenset({cls.ALIVE})

    @classmethod
    def unavailable_statuses(cls) -> frozenset[AgentStatus]:
        return frozenset({cls.LOST, cls.RESTARTING, cls.TERMINATED})

    @classmethod
    def watched_statuses(cls) -> frozenset[AgentStatus]:
        """Agents expected to heartbeat: the LOST sweep looks at these."""
        return frozenset({cls.ALIVE, cls.RESTARTING})


class SchedulerKind(TextChoices):
    FIFO = "fifo", "FIFO"
    LIFO = "lifo", "LIFO"
    DRF = "drf", "Dominant resource fairness"
    FAIR_SHARE = "fair-share", "Fair share (decayed usage against share weights)"


class AgentSelectionStrategy(TextChoices):
    CONCENTRATED = "concentrated", "Concentrated"
    DISPERSED = "dispersed", "Dispersed"
    ROUNDROBIN = "roundrobin", "Round-robin"


class SessionType(TextChoices):
    """Session types a resource group may allow (the sessions app owns sessions themselves)."""

    INTERACTIVE = "interactive", "Interactive"
    BATCH = "batch", "Batch"
    INFERENCE = "inference", "Inference"


class SlotType(TextChoices):
    COUNT = "count", "Count"
    BYTES = "bytes", "Bytes"
    UNIQUE = "unique", "Unique device"


class RegistryType(TextChoices):
    DOCKER = "docker", "Docker Registry HTTP API v2"


INTRINSIC_SLOTS = ("cpu", "mem")
DEFAULT_RESOURCE_GROUP = "default"
EVENTS_QUEUE = "events"


def agent_queue_name(agent_id: str) -> str:
    """The Celery queue an agent consumes its commands from."""
    return f"agent.{agent_id}"


class AgentCommand(StrEnum):
    """The commands the manager sends to an agent (Celery task `agent.<command>` on its queue)."""

    CREATE_KERNEL = "create_kernel"
    BIND_KERNEL = "bind_kernel"
    DESTROY_KERNEL = "destroy_kernel"
    RESTART_KERNEL = "restart_kernel"
    GET_LOGS = "get_logs"
    LIST_FILES = "list_files"
    PULL_IMAGE = "pull_image"
    COMMIT_KERNEL = "commit_kernel"
    RECONCILE = "reconcile"

    @property
    def task_name(self) -> str:
        return f"agent.{self.value}"
