"""Resource groups, agents and their capacity rows, container registries, images and aliases,
resource presets."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from pydantic import ValidationError as PydanticValidationError

from backendai_site.accounts.models import Domain, KeyPair, Project
from backendai_site.common.errors import InvalidResourceSlot
from backendai_site.common.resource_slot import ResourceSlot

from .enums import AgentStatus, RegistryType, SchedulerKind, SlotType
from .schemas import ResourceGroupOpts

SLOT_MAX_DIGITS = 40
SLOT_DECIMAL_PLACES = 6


def validate_scheduler_opts(value: Any) -> None:
    """Model-field validator: `scheduler_opts` must parse as ResourceGroupOpts."""
    try:
        ResourceGroupOpts.model_validate(value)
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid scheduler options: {exc}") from None


def validate_resource_slots(value: Any) -> None:
    """Model-field validator: amounts must parse as a ResourceSlot ("2", "4g", ...)."""
    if not isinstance(value, dict):
        raise ValidationError('resource slots must be a JSON object, e.g. {"cpu": "1"}')
    try:
        ResourceSlot.parse(value)
    except InvalidResourceSlot as exc:
        raise ValidationError(str(exc)) from None


def _default_scheduler_opts() -> dict[str, Any]:
    return ResourceGroupOpts().model_dump(mode="json")


class ResourceGroup(models.Model):
    """Backend.AI's scaling group: a pool of agents with its own scheduler."""

    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_public = models.BooleanField(
        default=True, help_text="Public groups may be used by any session type the options allow."
    )
    scheduler = models.CharField(
        max_length=16, choices=SchedulerKind.choices, default=SchedulerKind.FIFO
    )
    scheduler_opts = models.JSONField(
        default=_default_scheduler_opts, blank=True, validators=[validate_scheduler_opts]
    )
    domains = models.ManyToManyField(
        Domain, through="ResourceGroupForDomain", related_name="resource_groups", blank=True
    )
    projects = models.ManyToManyField(
        Project, through="ResourceGroupForProject", related_name="resource_groups", blank=True
    )
    keypairs = models.ManyToManyField(
        KeyPair, through="ResourceGroupForKeyPair", related_name="resource_groups", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def opts(self) -> ResourceGroupOpts:
        return ResourceGroupOpts.model_validate(self.scheduler_opts or {})


class ResourceGroupForDomain(models.Model):
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.CASCADE)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE)

    class Meta:
        verbose_name = "domain binding"
        constraints = [
            models.UniqueConstraint(fields=("resource_group", "domain"), name="uniq_rg_domain")
        ]

    def __str__(self) -> str:
        return f"{self.resource_group_id} for domain {self.domain_id}"


class ResourceGroupForProject(models.Model):
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.CASCADE)
    project = models.ForeignKey(Project, on_delete=models.CASCADE)

    class Meta:
        verbose_name = "project binding"
        constraints = [
            models.UniqueConstraint(fields=("resource_group", "project"), name="uniq_rg_project")
        ]

    def __str__(self) -> str:
        return f"{self.resource_group_id} for project {self.project_id}"


class ResourceGroupForKeyPair(models.Model):
    resource_group = models.ForeignKey(ResourceGroup, on_delete=models.CASCADE)
    keypair = models.ForeignKey(KeyPair, on_delete=models.CASCADE)

    class Meta:
        verbose_name = "keypair binding"
        constraints = [
            models.UniqueConstraint(fields=("resource_group", "keypair"), name="uniq_rg_keypair")
        ]

    def __str__(self) -> str:
        return f"{self.resource_group_id} for keypair {self.keypair_id}"


class Agent(models.Model):
    """A node running `manage.py run_agent`. Written only by the heartbeat/sweep services."""

    id = models.CharField(max_length=64, primary_key=True)
    status = models.CharField(
        max_length=16, choices=AgentStatus.choices, default=AgentStatus.ALIVE, db_index=True
    )
    status_changed = models.DateTimeField(null=True, blank=True)
    resource_group = models.ForeignKey(
        ResourceGroup, on_delete=models.PROTECT, related_name="agents"
    )
    advertised_host = models.CharField(max_length=255, default="127.0.0.1")
    architecture = models.CharField(max_length=32, default="x86_64")
    version = models.CharField(max_length=64, blank=True, default="")
    schedulable = models.BooleanField(
        default=True, help_text="Cleared to drain the agent: running kernels stay, no new ones."
    )
    first_contact = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True, db_index=True)
    lost_at = models.DateTimeField(null=True, blank=True)
    boot_id = models.CharField(
        max_length=64, blank=True, default="", help_text="Changes every time the daemon starts."
    )
    compute_plugins = models.JSONField(default=dict, blank=True)
    local_images = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.id


class AgentResource(models.Model):
    """One slot of one agent: the single source of truth for capacity and its reserved use."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="resources")
    slot_name = models.CharField(max_length=64)
    slot_type = models.CharField(max_length=16, choices=SlotType.choices, default=SlotType.COUNT)
    capacity = models.DecimalField(max_digits=SLOT_MAX_DIGITS, decimal_places=SLOT_DECIMAL_PLACES)
    used = models.DecimalField(
        default=0, max_digits=SLOT_MAX_DIGITS, decimal_places=SLOT_DECIMAL_PLACES
    )

    class Meta:
        ordering = ("agent_id", "slot_name")
        constraints = [
            models.UniqueConstraint(fields=("agent", "slot_name"), name="uniq_agent_slot"),
            models.CheckConstraint(
                condition=Q(used__lte=F("capacity")), name="agent_slot_used_lte_capacity"
            ),
            models.CheckConstraint(condition=Q(used__gte=0), name="agent_slot_used_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id}:{self.slot_name} {self.used}/{self.capacity}"


class ContainerRegistry(models.Model):
    """A Docker Registry HTTP API v2 endpoint images are scanned from and pulled through."""

    name = models.CharField(
        max_length=255, unique=True, help_text='The host part of image refs, e.g. "127.0.0.1:5000".'
    )
    type = models.CharField(
        max_length=16, choices=RegistryType.choices, default=RegistryType.DOCKER
    )
    url = models.URLField(max_length=512, help_text='e.g. "http://127.0.0.1:5000".')
    project = models.CharField(
        max_length=255, blank=True, default="", help_text="Namespace to scan; empty scans all."
    )
    username = models.CharField(max_length=255, blank=True, default="")
    password = models.CharField(max_length=255, blank=True, default="")
    ssl_verify = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "container registries"

    def __str__(self) -> str:
        return self.name


class Image(models.Model):
    """A kernel image known to the catalog, from an agent's local images or a registry scan."""

    name = models.CharField(max_length=255, help_text='Repository path, e.g. "bai/python".')
    tag = models.CharField(max_length=128, default="latest")
    architecture = models.CharField(max_length=32, default="x86_64")
    registry = models.ForeignKey(
        ContainerRegistry,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="images",
        help_text="Empty for images that exist only on agents (built locally).",
    )
    digest = models.CharField(max_length=128, blank=True, default="")
    size_bytes = models.BigIntegerField(default=0)
    labels = models.JSONField(default=dict, blank=True)
    min_resources = models.JSONField(default=dict, blank=True)
    max_resources = models.JSONField(default=dict, blank=True)
    service_ports = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "tag")
        constraints = [
            models.UniqueConstraint(
                fields=("registry", "name", "tag", "architecture"),
                name="uniq_image_ref_arch",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return self.canonical

    @property
    def canonical(self) -> str:
        """The reference Docker pulls: "<registry>/<name>:<tag>" (no registry for local images)."""
        prefix = f"{self.registry.name}/" if self.registry is not None else ""
        return f"{prefix}{self.name}:{self.tag}"

    @property
    def min_slots(self) -> ResourceSlot:
        return ResourceSlot.from_json(self.min_resources)


class ImageAlias(models.Model):
    alias = models.CharField(max_length=255, unique=True)
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="aliases")

    class Meta:
        ordering = ("alias",)
        verbose_name_plural = "image aliases"

    def __str__(self) -> str:
        return f"{self.alias} -> {self.image_id}"


class ResourcePreset(models.Model):
    """A named resource shape users pick from (`GET /resource/presets`, `check-presets`).

    Without a resource group it is offered everywhere; with one, only in that group."""

    name = models.CharField(max_length=64)
    resource_slots = models.JSONField(default=dict, validators=[validate_resource_slots])
    shared_memory = models.BigIntegerField(
        null=True, blank=True, help_text="Bytes of /dev/shm; empty for the default."
    )
    resource_group = models.ForeignKey(
        ResourceGroup,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="resource_presets",
        help_text="Empty: offered in every resource group.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=("name", "resource_group"),
                name="uniq_preset_name_in_group",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(shared_memory__isnull=True) | Q(shared_memory__gte=0),
                name="preset_shared_memory_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return (
            self.name if self.resource_group_id is None else f"{self.name} ({self.resource_group})"
        )

    @property
    def slots(self) -> ResourceSlot:
        return ResourceSlot.parse(self.resource_slots or {})
