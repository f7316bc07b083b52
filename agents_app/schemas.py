"""Pydantic models of the agents app: resource-group options and every Celery message payload.

Messages travel as JSON (`model_dump(mode="json")`); Decimal amounts become strings. This module
imports no Django model, so the agent daemon (which never opens the database) can use it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .enums import AgentSelectionStrategy, SessionType, SlotType

PROTOCOL_VERSION = 1

FairShareWeightValue = Annotated[
    Decimal, Field(gt=0, le=10**6, max_digits=12, decimal_places=4, allow_inf_nan=False)
]
"""A share weight (of a domain, project or user, or a group's default): positive, 4 places."""
ResourceWeightValue = Annotated[
    Decimal, Field(ge=0, le=10**6, max_digits=16, decimal_places=8, allow_inf_nan=False)
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ResourceGroupOpts(BaseModel):
    """`ResourceGroup.scheduler_opts`."""

    model_config = ConfigDict(extra="forbid")

    allowed_session_types: list[SessionType] = Field(
        default_factory=lambda: [SessionType.INTERACTIVE, SessionType.BATCH, SessionType.INFERENCE]
    )
    pending_timeout: float = Field(
        default=0, ge=0, description="Seconds a session may stay PENDING; 0 waits forever."
    )
    agent_selection_strategy: AgentSelectionStrategy = AgentSelectionStrategy.DISPERSED
    # the fair-share sequencer (scheduler "fair-share"; docs/design/0008-usage-and-fair-share.md)
    fair_share_half_life_days: float = Field(
        default=7,
        gt=0,
        le=3650,
        allow_inf_nan=False,
        description="Ledger usage counts half as much after this.",
    )
    fair_share_lookback_days: float = Field(
        default=28,
        gt=0,
        le=3650,
        allow_inf_nan=False,
        description="Ledger rows older than this are not read.",
    )
    fair_share_aging_seconds: float = Field(
        default=3600,
        gt=0,
        le=10 * 365 * 86400,
        allow_inf_nan=False,
        description="A session that waited this much longer than another goes ahead of it.",
    )
    fair_share_occupancy_seconds: float = Field(
        default=3600,
        ge=0,
        le=10 * 365 * 86400,
        allow_inf_nan=False,
        description="Each slot a user holds in the group counts as this many seconds of usage.",
    )
    fair_share_decay_unit_days: int = Field(
        default=1,
        ge=1,
        le=365,
        description="Days in one usage bucket the fair-share answers report (decay is continuous).",
    )
    fair_share_default_weight: FairShareWeightValue = Field(
        default=Decimal(1), description="The weight of a domain, project or user without one."
    )
    fair_share_resource_weights: dict[
        Annotated[str, Field(min_length=1, max_length=64)], ResourceWeightValue
    ] = Field(
        default_factory=dict,
        max_length=64,
        description="How much each slot's usage counts (a slot not named counts 1).",
    )
    config: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- what agents report ----------------------------------------------------------------------


class SlotCapacity(Message):
    slot_name: str
    slot_type: SlotType
    capacity: Decimal = Field(ge=0)


class LocalImage(Message):
    ref: str = Field(description='"name:tag" as the local Docker engine knows it.')
    digest: str = ""
    architecture: str = "x86_64"
    labels: dict[str, str] = Field(default_factory=dict)
    size_bytes: int = 0


class KernelStat(Message):
    kernel_id: str
    container_id: str = ""
    status: str = ""
    cpu_used_seconds: float | None = None
    mem_bytes: int | None = None
    mem_limit_bytes: int | None = None


class AgentInfo(Message):
    """What an agent says about itself on registration and in each heartbeat."""

    protocol: int = PROTOCOL_VERSION
    agent_id: str
    boot_id: str
    resource_group: str
    advertised_host: str
    architecture: str
    version: str
    slots: list[SlotCapacity]
    compute_plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    images: list[LocalImage] = Field(default_factory=list)
    sent_at: datetime = Field(default_factory=utcnow)


class AgentHeartbeat(AgentInfo):
    kernels: list[KernelStat] = Field(default_factory=list)


class ReportedKernel(Message):
    """A labelled container found on the agent when it started (adopted or dead)."""

    kernel_id: str
    container_id: str = ""
    running: bool
    exit_code: int | None = None
    oom_killed: bool = False


class AgentStarted(AgentInfo):
    """Sent once per daemon start, after recovery: the kernels the agent found."""

    kernels: list[ReportedKernel] = Field(default_factory=list)


# --- kernel events (agent -> manager) -----------------------------------------------------------


class PublishedPort(Message):
    name: str
    protocol: str
    container_port: int
    host_port: int


class KernelStarted(Message):
    agent_id: str
    kernel_id: str
    session_id: str = ""
    container_id: str
    host: str
    ports: list[PublishedPort] = Field(default_factory=list)
    allocations: dict[str, Any] = Field(default_factory=dict)
    adopted: bool = False
    at: datetime = Field(default_factory=utcnow)


# the reason of a kernel whose container an agent found dead when it started again (recover)
TERMINATED_WHILE_AGENT_DOWN = "terminated-while-agent-down"


class KernelTerminated(Message):
    agent_id: str
    kernel_id: str
    session_id: str = ""
    exit_code: int | None = None
    oom_killed: bool = False
    reason: str = ""
    at: datetime = Field(default_factory=utcnow)


class KernelCreationFailed(Message):
    agent_id: str
    kernel_id: str
    session_id: str = ""
    reason: str
    detail: str = ""
    at: datetime = Field(default_factory=utcnow)


class ImagePullResult(Message):
    agent_id: str
    ref: str
    ok: bool
    digest: str = ""
    error: str = ""
    at: datetime = Field(default_factory=utcnow)


class KernelCommitUpdated(Message):
    """Progress of a `commit_kernel` (one step of `total_progress` done)."""

    agent_id: str
    kernel_id: str
    session_id: str = ""
    task_id: str
    current_progress: int = Field(ge=0)
    total_progress: int = Field(ge=1)
    message: str = ""
    at: datetime = Field(default_factory=utcnow)


class KernelCommitted(Message):
    """The end of a `commit_kernel`: the new local image, or why there is none."""

    agent_id: str
    kernel_id: str
    session_id: str = ""
    task_id: str
    ok: bool
    image: LocalImage | None = None
    error: str = ""
    at: datetime = Field(default_factory=utcnow)


class AgentLost(Message):
    """Dispatched (not sent by the agent) when the sweep marks an agent LOST."""

    agent_id: str
    lost_at: datetime


class KernelStats(Message):
    """Live use of an agent's kernels, dispatched from each heartbeat (not stored)."""

    agent_id: str
    kernels: list[KernelStat]
    at: datetime = Field(default_factory=utcnow)


# --- commands (manager -> agent.<id>) -------------------------------------------------------------


class Command(Message):
    reply_to: str | None = Field(
        default=None, description="A Redis list the agent pushes its JSON reply to, if any."
    )


class CreateKernel(Command):
    kernel_id: str
    session_id: str = ""
    owner_access_key: str = ""
    image: str = Field(description="Image ref to run (the canonical name, pulled if missing).")
    resources: dict[str, Decimal] = Field(
        description="Slot amounts to allocate: cpu, mem (bytes), accelerator slots."
    )
    environ: dict[str, str] = Field(default_factory=dict)
    bootstrap_script: str = ""
    startup_command: str = ""
    kernel_secret: str = ""
    mounts: list[dict[str, Any]] = Field(default_factory=list)
    cluster_hostname: str = Field(default="main1", pattern=r"^[a-z][a-z0-9-]{0,62}$")
    network: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="Private network shared by the kernels of one single-node cluster session.",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra container labels (a warm pool's mark)."
    )


class BindKernel(Command):
    """Hand a running pooled kernel to the session that claimed it (docs/design/0007)."""

    kernel_id: str
    session_id: str
    environ: dict[str, str] = Field(default_factory=dict)


class KernelRef(Command):
    kernel_id: str
    session_id: str = ""


class DestroyKernel(KernelRef):
    reason: str = "user-requested"


class GetLogs(KernelRef):
    tail: int | None = None


class ListFiles(KernelRef):
    path: str = "."


COMMIT_REPOSITORY_PATTERN = (
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$"
)
COMMIT_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


class CommitKernel(KernelRef):
    """Save a running kernel (its container and its /home/work) as the local image
    `repository:tag`, labelled with the kernel image's `ai.backend.*` labels plus `labels`."""

    task_id: str = Field(min_length=1, max_length=64)
    repository: str = Field(max_length=200, pattern=COMMIT_REPOSITORY_PATTERN)
    tag: str = Field(pattern=COMMIT_TAG_PATTERN)
    labels: dict[str, str] = Field(default_factory=dict)


class PullImage(Command):
    ref: str
    username: str = ""
    password: str = ""


class Reconcile(Command):
    """The manager's answer to AgentStarted: kernels the agent must destroy."""

    destroy_kernel_ids: list[str] = Field(default_factory=list)
    reason: str = "orphan"


class CommandReply(Message):
    ok: bool
    result: Any = None
    error: str = ""


EventName = Literal[
    "kernel_started",
    "kernel_terminated",
    "kernel_creation_failed",
    "kernel_stats",
    "image_pulled",
    "kernel_commit_updated",
    "kernel_committed",
    "agent_started",
    "agent_lost",
]
