"""Compute sessions, their kernels (one container each), history, dependencies and templates."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from agents_app.models import Agent, Image, ResourceGroup
from backendai_site.accounts.models import Domain, KeyPair, Project, User

from .enums import (
    ClusterMode,
    KernelRole,
    KernelStatus,
    PooledKernelStatus,
    SessionResult,
    SessionStatus,
    SessionType,
    UsageKind,
)


class Session(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=64)
    session_type = models.CharField(
        max_length=16, choices=SessionType.choices, default=SessionType.INTERACTIVE
    )
    priority = models.IntegerField(default=10)
    cluster_mode = models.CharField(
        max_length=16, choices=ClusterMode.choices, default=ClusterMode.SINGLE_NODE
    )
    cluster_size = models.PositiveIntegerField(default=1)
    tag = models.CharField(max_length=64, blank=True, default="")

    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="sessions")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="sessions")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="sessions")
    access_key = models.ForeignKey(
        KeyPair, on_delete=models.PROTECT, related_name="sessions", db_column="access_key"
    )
    resource_group = models.ForeignKey(
        ResourceGroup, on_delete=models.PROTECT, related_name="sessions"
    )
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="sessions")
    image_ref = models.CharField(max_length=512, help_text="The image as the request named it.")
    architecture = models.CharField(max_length=32, default="x86_64")
    requested_slots = models.JSONField(default=dict, help_text="Per kernel.")
    occupying_slots = models.JSONField(default=dict, blank=True, help_text="All kernels.")
    resource_opts = models.JSONField(default=dict, blank=True)
    designated_agents = models.JSONField(default=list, blank=True)

    status = models.CharField(
        max_length=20, choices=SessionStatus.choices, default=SessionStatus.PENDING, db_index=True
    )
    status_info = models.CharField(max_length=64, blank=True, default="")
    status_data = models.JSONField(
        default=dict, blank=True, help_text="Machine-readable details: the scheduler's verdict."
    )
    status_changed = models.DateTimeField(null=True, blank=True)
    result = models.CharField(
        max_length=16, choices=SessionResult.choices, default=SessionResult.UNDEFINED
    )

    startup_command = models.TextField(blank=True, default="")
    bootstrap_script = models.TextField(blank=True, default="")
    batch_timeout = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    starts_at = models.DateTimeField(null=True, blank=True)
    callback_url = models.URLField(max_length=1024, blank=True, default="")
    environ = models.JSONField(default=dict, blank=True)
    mounts = models.JSONField(default=list, blank=True)
    preopen_ports = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    terminated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=("resource_group", "status", "created_at"), name="sess_rg_status"),
            models.Index(fields=("access_key", "status"), name="sess_owner_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("access_key", "name"),
                condition=~Q(status__in=["TERMINATED", "CANCELLED", "ERROR"]),
                name="uniq_live_session_name_per_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class SessionStatusHistory(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=20, choices=SessionStatus.choices)
    reason = models.CharField(max_length=255, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ("at", "id")
        verbose_name_plural = "session status history"

    def __str__(self) -> str:
        return f"{self.session_id} {self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class Kernel(models.Model):
    """One container of a session, placed on one agent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="kernels")
    cluster_role = models.CharField(
        max_length=8, choices=KernelRole.choices, default=KernelRole.MAIN
    )
    cluster_idx = models.PositiveIntegerField(default=1)
    cluster_hostname = models.CharField(max_length=64, default="main1")
    agent = models.ForeignKey(
        Agent, on_delete=models.PROTECT, null=True, blank=True, related_name="kernels"
    )
    container_id = models.CharField(max_length=128, blank=True, default="")
    status = models.CharField(
        max_length=20, choices=KernelStatus.choices, default=KernelStatus.PENDING, db_index=True
    )
    status_info = models.CharField(max_length=64, blank=True, default="")
    status_changed = models.DateTimeField(null=True, blank=True)
    requested_slots = models.JSONField(default=dict)
    occupied_slots = models.JSONField(
        default=dict, blank=True, help_text="What this kernel holds on its agent's capacity."
    )
    holds_resources = models.BooleanField(
        default=False,
        help_text="True while occupied_slots is counted in the agent's `used` capacity.",
    )
    coordination = models.JSONField(
        default=dict,
        blank=True,
        help_text="The coordinator's retries of the current status: status, attempts, last at.",
    )
    service_ports = models.JSONField(default=list, blank=True)
    host_ports = models.JSONField(default=dict, blank=True, help_text="Published ports by name.")
    runner_port = models.PositiveIntegerField(null=True, blank=True)
    runner_secret = models.CharField(max_length=64, blank=True, default="")
    exit_code = models.IntegerField(null=True, blank=True)
    oom_killed = models.BooleanField(default=False)
    logs = models.TextField(blank=True, default="", help_text="Kept when the container is removed.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    usage_recorded_until = models.DateTimeField(
        null=True, blank=True, help_text="The usage ledger holds this kernel's time up to here."
    )
    usage_closed = models.BooleanField(
        default=False, help_text="True once the ledger holds the kernel's whole run."
    )

    class Meta:
        ordering = ("session_id", "cluster_idx")
        indexes = [
            models.Index(fields=("agent", "holds_resources"), name="kernel_agent_holds"),
            # the usage recorder's scan: kernels that ran and still owe ledger time
            models.Index(
                fields=("started_at",),
                name="kernel_usage_owing",
                condition=Q(usage_closed=False, started_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cluster_hostname} of {self.session_id}"


class SessionDependency(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="dependencies")
    depends_on = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="dependents")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("session", "depends_on"), name="uniq_session_dep")
        ]
        verbose_name_plural = "session dependencies"

    def __str__(self) -> str:
        return f"{self.session_id} after {self.depends_on_id}"


class UsageInterval(models.Model):
    """One row of the append-only usage ledger: what one kernel held for one interval.

    Attribution is copied, not referenced, so the ledger outlives purged sessions and users. A
    database trigger (migration 0004) refuses UPDATE and DELETE; a correction is a new row of kind
    `correction` pointing at the row it corrects (docs/design/0008-usage-and-fair-share.md)."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=UsageKind.choices, default=UsageKind.INTERVAL)
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    note = models.CharField(max_length=255, blank=True, default="")
    kernel_id = models.UUIDField(db_index=True)
    session_id = models.UUIDField()
    session_name = models.CharField(max_length=64)
    user_id = models.UUIDField()
    user_email = models.CharField(max_length=254)
    access_key = models.CharField(max_length=20)
    project_id = models.UUIDField()
    project_name = models.CharField(max_length=64)
    domain_name = models.CharField(max_length=64)
    resource_group = models.CharField(max_length=64)
    agent_id = models.CharField(max_length=64, blank=True, default="")
    image = models.CharField(max_length=512, blank=True, default="")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    seconds = models.DecimalField(max_digits=20, decimal_places=6)
    slots = models.JSONField(default=dict, help_text="Amounts held during the interval.")
    slot_seconds = models.JSONField(default=dict, help_text="Amount x seconds, per slot.")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("started_at", "id")
        indexes = [
            models.Index(fields=("started_at",), name="usage_started"),
            models.Index(fields=("project_id", "started_at"), name="usage_project_started"),
            models.Index(fields=("user_id", "started_at"), name="usage_user_started"),
            models.Index(fields=("resource_group", "started_at"), name="usage_rgroup_started"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gte=models.F("started_at")), name="usage_interval_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.kernel_id} {self.started_at:%Y-%m-%d %H:%M:%S} +{self.seconds}s"


def _fair_share_weight_unique_constraints() -> list[models.UniqueConstraint]:
    """One row per target and resource group, a null group (every group) or a user's null
    project (every project) counting as one value: partial unique indexes, one per null pattern
    (PostgreSQL before 15 has no NULLS NOT DISTINCT)."""
    constraints = []
    targets: list[tuple[str, tuple[str, ...], Q]] = [
        ("domain", ("domain",), Q(domain__isnull=False)),
        ("project", ("project",), Q(project__isnull=False, user__isnull=True)),
        ("user_project", ("user", "project"), Q(user__isnull=False, project__isnull=False)),
        ("user", ("user",), Q(user__isnull=False, project__isnull=True)),
    ]
    for name, fields, target in targets:
        constraints.append(
            models.UniqueConstraint(
                fields=(*fields, "resource_group"),
                condition=target & Q(resource_group__isnull=False),
                name=f"uniq_fs_weight_{name}_group",
            )
        )
        constraints.append(
            models.UniqueConstraint(
                fields=fields,
                condition=target & Q(resource_group__isnull=True),
                name=f"uniq_fs_weight_{name}",
            )
        )
    return constraints


class FairShareWeight(models.Model):
    """The share weight of a domain, a project or a user for the fair-share sequencer, in one
    resource group or (`resource_group` null) in every group without a row of its own. A user's
    row may name the project it applies in (null: each of its projects). A null `weight` is the
    group's default weight (`fair_share_default_weight`); a target without a row weighs that too
    (docs/design/0008-usage-and-fair-share.md)."""

    resource_group = models.ForeignKey(
        ResourceGroup,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="fair_share_weights",
        help_text="Empty: every resource group without a weight of its own for the target.",
    )
    domain = models.ForeignKey(
        Domain, on_delete=models.CASCADE, null=True, blank=True, related_name="fair_share_weights"
    )
    project = models.ForeignKey(
        Project,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="fair_share_weights",
        help_text="The project, or with a user the project the user's weight applies in.",
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="fair_share_weights"
    )
    weight = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        default=1,
        help_text="Relative share among siblings; empty: the resource group's default weight.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(domain__isnull=False, project__isnull=True, user__isnull=True)
                    | Q(domain__isnull=True, project__isnull=False, user__isnull=True)
                    | Q(domain__isnull=True, user__isnull=False)
                ),
                name="fair_share_weight_one_target",
            ),
            models.CheckConstraint(
                condition=Q(weight__isnull=True) | Q(weight__gt=0),
                name="fair_share_weight_positive",
            ),
            *_fair_share_weight_unique_constraints(),
        ]

    def __str__(self) -> str:
        if self.domain_id is not None:
            target = f"domain {self.domain_id}"
        elif self.user_id is not None:
            target = f"user {self.user_id}"
            if self.project_id is not None:
                target += f" in project {self.project_id}"
        else:
            target = f"project {self.project_id}"
        where = f"group {self.resource_group_id}" if self.resource_group_id else "every group"
        return f"{target} ({where}): {self.weight if self.weight is not None else 'default'}"


class WarmPool(models.Model):
    """Ready kernels an admin wants kept for one resource group, image and resource shape
    (docs/design/0007-warm-pools.md)."""

    resource_group = models.ForeignKey(
        ResourceGroup, on_delete=models.CASCADE, related_name="warm_pools"
    )
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="warm_pools")
    slots = models.JSONField(
        default=dict, help_text='Per-kernel slots as sessions store them, e.g. {"cpu": "1", ...}.'
    )
    target_size = models.PositiveIntegerField(default=1)
    max_age_seconds = models.PositiveIntegerField(
        default=3600, help_text="Ready kernels older than this are replaced."
    )
    enabled = models.BooleanField(default=True)
    hits = models.PositiveBigIntegerField(default=0, editable=False)
    misses = models.PositiveBigIntegerField(default=0, editable=False)
    refills = models.PositiveBigIntegerField(default=0, editable=False)
    refill_ms_total = models.PositiveBigIntegerField(default=0, editable=False)
    last_refill_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("resource_group", "image", "id")

    def __str__(self) -> str:
        return f"{self.image} x{self.target_size} in {self.resource_group}"


class PooledKernel(models.Model):
    """One container of a warm pool; its id becomes the claiming session's kernel id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pool = models.ForeignKey(WarmPool, on_delete=models.PROTECT, related_name="kernels")
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="pooled_kernels")
    status = models.CharField(
        max_length=16,
        choices=PooledKernelStatus.choices,
        default=PooledKernelStatus.CREATING,
        db_index=True,
    )
    status_info = models.CharField(max_length=64, blank=True, default="")
    occupied_slots = models.JSONField(default=dict)
    holds_resources = models.BooleanField(default=False)
    runner_secret = models.CharField(max_length=64)
    container_id = models.CharField(max_length=128, blank=True, default="")
    host_ports = models.JSONField(default=dict, blank=True)
    runner_port = models.PositiveIntegerField(null=True, blank=True)
    session = models.ForeignKey(
        Session, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("pool", "created_at")
        indexes = [models.Index(fields=("pool", "status", "ready_at"), name="pooled_claim")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"
