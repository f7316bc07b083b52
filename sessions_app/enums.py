"""Session and kernel vocabularies (Backend.AI's), with named status sets and legal moves."""

from __future__ import annotations

from django.db import models

from agents_app.enums import SessionType

__all__ = [
    "ClusterMode",
    "KernelRole",
    "KernelStatus",
    "SessionAction",
    "SessionResult",
    "SessionStatus",
    "SessionType",
]


class SessionStatus(models.TextChoices):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    PREPARING = "PREPARING"
    PULLING = "PULLING"
    PREPARED = "PREPARED"
    CREATING = "CREATING"
    RUNNING = "RUNNING"
    RUNNING_DEGRADED = "RUNNING_DEGRADED"
    RESTARTING = "RESTARTING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"

    @classmethod
    def terminal(cls) -> frozenset[SessionStatus]:
        """Statuses a session never leaves."""
        return frozenset({cls.TERMINATED, cls.CANCELLED})

    @classmethod
    def dead(cls) -> frozenset[SessionStatus]:
        """Statuses whose sessions hold no name and no capacity (ERROR can still be cleaned up)."""
        return frozenset({cls.TERMINATED, cls.CANCELLED, cls.ERROR})

    @classmethod
    def live(cls) -> frozenset[SessionStatus]:
        return frozenset(set(cls) - cls.dead())

    @classmethod
    def starting(cls) -> frozenset[SessionStatus]:
        """Placed on agents, containers not all up yet."""
        return frozenset({cls.SCHEDULED, cls.PREPARING, cls.PULLING, cls.PREPARED, cls.CREATING})

    @classmethod
    def running(cls) -> frozenset[SessionStatus]:
        return frozenset({cls.RUNNING, cls.RUNNING_DEGRADED, cls.RESTARTING})


_S = SessionStatus
SESSION_TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    _S.PENDING: frozenset({_S.SCHEDULED, _S.CANCELLED, _S.TERMINATING, _S.ERROR}),
    # back to PENDING: an agent refused the placement (insufficient-resource) or was lost
    # before the kernel started; the scheduler places the session again
    _S.SCHEDULED: frozenset({_S.PREPARING, _S.PULLING, _S.PREPARED, _S.CREATING, _S.RUNNING,
                             _S.TERMINATING, _S.ERROR, _S.CANCELLED, _S.PENDING}),
    _S.PREPARING: frozenset({_S.PULLING, _S.PREPARED, _S.CREATING, _S.RUNNING, _S.TERMINATING,
                             _S.ERROR, _S.PENDING}),
    _S.PULLING: frozenset({_S.PREPARED, _S.CREATING, _S.RUNNING, _S.TERMINATING, _S.ERROR,
                           _S.PENDING}),
    _S.PREPARED: frozenset({_S.CREATING, _S.RUNNING, _S.TERMINATING, _S.ERROR, _S.PENDING}),
    _S.CREATING: frozenset({_S.RUNNING, _S.TERMINATING, _S.ERROR, _S.PENDING}),
    _S.RUNNING: frozenset({_S.RUNNING_DEGRADED, _S.RESTARTING, _S.TERMINATING, _S.ERROR}),
    _S.RUNNING_DEGRADED: frozenset({_S.RUNNING, _S.RESTARTING, _S.TERMINATING, _S.ERROR}),
    _S.RESTARTING: frozenset({_S.RUNNING, _S.TERMINATING, _S.ERROR}),
    _S.TERMINATING: frozenset({_S.TERMINATED, _S.ERROR}),
    _S.ERROR: frozenset({_S.TERMINATING, _S.TERMINATED}),
    _S.TERMINATED: frozenset(),
    _S.CANCELLED: frozenset(),
}  # fmt: skip


class KernelStatus(models.TextChoices):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    PREPARING = "PREPARING"
    PULLING = "PULLING"
    PREPARED = "PREPARED"
    CREATING = "CREATING"
    RUNNING = "RUNNING"
    RESTARTING = "RESTARTING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"

    @classmethod
    def terminal(cls) -> frozenset[KernelStatus]:
        return frozenset({cls.TERMINATED, cls.CANCELLED})

    @classmethod
    def dead(cls) -> frozenset[KernelStatus]:
        return frozenset({cls.TERMINATED, cls.CANCELLED, cls.ERROR})

    @classmethod
    def starting(cls) -> frozenset[KernelStatus]:
        """Sent to an agent (or about to be), container not reported up yet."""
        return frozenset({cls.SCHEDULED, cls.PREPARING, cls.PULLING, cls.PREPARED, cls.CREATING})


_K = KernelStatus
KERNEL_TRANSITIONS: dict[KernelStatus, frozenset[KernelStatus]] = {
    _K.PENDING: frozenset({_K.SCHEDULED, _K.CANCELLED, _K.TERMINATED, _K.ERROR}),
    _K.SCHEDULED: frozenset({_K.PREPARING, _K.PULLING, _K.PREPARED, _K.CREATING, _K.RUNNING,
                             _K.TERMINATING, _K.TERMINATED, _K.ERROR, _K.CANCELLED, _K.PENDING}),
    _K.PREPARING: frozenset({_K.PULLING, _K.PREPARED, _K.CREATING, _K.RUNNING, _K.TERMINATING,
                             _K.TERMINATED, _K.ERROR, _K.PENDING}),
    _K.PULLING: frozenset({_K.PREPARED, _K.CREATING, _K.RUNNING, _K.TERMINATING, _K.TERMINATED,
                           _K.ERROR, _K.PENDING}),
    _K.PREPARED: frozenset({_K.CREATING, _K.RUNNING, _K.TERMINATING, _K.TERMINATED, _K.ERROR,
                            _K.PENDING}),
    _K.CREATING: frozenset({_K.RUNNING, _K.TERMINATING, _K.TERMINATED, _K.ERROR, _K.PENDING}),
    _K.RUNNING: frozenset({_K.RESTARTING, _K.TERMINATING, _K.TERMINATED, _K.ERROR}),
    _K.RESTARTING: frozenset({_K.RUNNING, _K.TERMINATING, _K.TERMINATED, _K.ERROR}),
    _K.TERMINATING: frozenset({_K.TERMINATED, _K.ERROR}),
    _K.ERROR: frozenset({_K.TERMINATING, _K.TERMINATED}),
    _K.TERMINATED: frozenset(),
    _K.CANCELLED: frozenset(),
}  # fmt: skip


class PooledKernelStatus(models.TextChoices):
    """A warm pool's kernel: CREATING -> READY -> CLAIMED (now a session's kernel), or EVICTING
    (replaced, evicted for a cold request) -> TERMINATED."""

    CREATING = "CREATING"
    READY = "READY"
    CLAIMED = "CLAIMED"
    EVICTING = "EVICTING"
    TERMINATED = "TERMINATED"

    @classmethod
    def live(cls) -> frozenset[PooledKernelStatus]:
        """Kernels that count towards a pool's size."""
        return frozenset({cls.CREATING, cls.READY})


class SessionResult(models.TextChoices):
    UNDEFINED = "UNDEFINED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class ClusterMode(models.TextChoices):
    SINGLE_NODE = "single-node"
    MULTI_NODE = "multi-node"


class KernelRole(models.TextChoices):
    MAIN = "main"
    SUB = "sub"


class SessionAction(models.TextChoices):
    """What a caller wants to do with a session; `sessions_for` decides who may.

    VIEW reads (info, list, logs, history, dependency graph, events, GraphQL); OPERATE works
    inside the running session (execute, complete, interrupt, pty, tcpproxy, apps and service
    start, app links, files, upload, download, the terminal page); MANAGE changes the session
    itself (rename, restart, destroy, priority, commit).
    """

    VIEW = "view"
    OPERATE = "operate"
    MANAGE = "manage"


class UsageKind(models.TextChoices):
    """A usage ledger row: time a kernel held slots, or a signed correction of such a row."""

    INTERVAL = "interval", "interval"
    CORRECTION = "correction", "correction"
