"""The admin console for agents, resource groups, resource presets, images and registries.

Superadmins manage everything; monitors read (their role gives only view permissions on this
app); domain admins do not see this app at all (see accounts/permissions.py). Agents and their
capacity are written by agents themselves: the admin only drains and undrains them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from backendai_site.console import formatting

from .admin_actions import AgentActionsMixin
from .models import (
    Agent,
    AgentResource,
    ContainerRegistry,
    Image,
    ImageAlias,
    ResourceGroup,
    ResourceGroupForDomain,
    ResourceGroupForKeyPair,
    ResourceGroupForProject,
    ResourcePreset,
)
from .services.agents import agents_set_schedulable
from .services.images import images_rescan_from_agents
from .services.registry import registries_rescan


class ResourceGroupForDomainInline(TabularInline):
    model = ResourceGroupForDomain
    extra = 0


class ResourceGroupForProjectInline(TabularInline):
    model = ResourceGroupForProject
    extra = 0
    raw_id_fields = ("project",)


class ResourceGroupForKeyPairInline(TabularInline):
    model = ResourceGroupForKeyPair
    extra = 0
    raw_id_fields = ("keypair",)


@admin.register(ResourceGroup)
class ResourceGroupAdmin(ModelAdmin):
    list_display = ("name", "is_active", "is_public", "scheduler", "created_at")
    list_filter = ("is_active", "is_public", "scheduler")
    search_fields = ("name", "description")
    inlines = (
        ResourceGroupForDomainInline,
        ResourceGroupForProjectInline,
        ResourceGroupForKeyPairInline,
    )


class AgentResourceInline(TabularInline):
    model = AgentResource
    extra = 0
    fields = ("slot_name", "slot_type", "capacity_text", "used_text")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="capacity")
    def capacity_text(self, obj: AgentResource) -> str:
        return formatting.amount(obj.slot_name, obj.capacity)

    @admin.display(description="used")
    def used_text(self, obj: AgentResource) -> str:
        return formatting.amount(obj.slot_name, obj.used)


@admin.register(Agent)
class AgentAdmin(AgentActionsMixin, ModelAdmin):
    list_display = (
        "id",
        "status_badge",
        "schedulable",
        "resource_group",
        "advertised_host",
        "usage",
        "heartbeat",
        "version",
    )
    list_filter = ("status", "schedulable", "resource_group", "architecture")
    search_fields = ("id", "advertised_host")
    list_select_related = ("resource_group",)
    readonly_fields = (
        "id",
        "status",
        "status_changed",
        "resource_group",
        "advertised_host",
        "architecture",
        "version",
        "first_contact",
        "last_heartbeat",
        "lost_at",
        "boot_id",
        "compute_plugins",
        "local_images",
    )
    fields = ("schedulable", *readonly_fields)
    inlines = (AgentResourceInline,)
    actions = ("drain_agents", "undrain_agents", "rescan_images")
    actions_detail = ("drain_agent", "undrain_agent", "rescan_agent_images")  # admin_actions.py

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        return super().get_queryset(request).prefetch_related("resources")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # agents register themselves

    @display(description="status", ordering="status", label=formatting.AGENT_STATUS_LABELS)
    def status_badge(self, obj: Agent) -> str:
        return obj.status

    @admin.display(description="last heartbeat", ordering="last_heartbeat")
    def heartbeat(self, obj: Agent) -> str:
        return format_html(
            '<span title="{}">{}</span>',
            formatting.clock(obj.last_heartbeat),
            formatting.age(obj.last_heartbeat),
        )

    @admin.display(description="used / capacity")
    def usage(self, obj: Agent) -> str:
        rows = [
            (row.slot_name, formatting.used_of(row.slot_name, row.used, row.capacity))
            for row in sorted(obj.resources.all(), key=lambda r: r.slot_name)
        ]
        return format_html_join(", ", "{}: {}", rows) or "-"

    @admin.action(description="Drain: stop placing new kernels", permissions=["change"])
    def drain_agents(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        count = agents_set_schedulable(
            agent_ids=list(queryset.values_list("pk", flat=True)), schedulable=False
        )
        self.message_user(request, f"Drained {count} agent(s).", messages.SUCCESS)

    @admin.action(description="Undrain: accept new kernels again", permissions=["change"])
    def undrain_agents(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        count = agents_set_schedulable(
            agent_ids=list(queryset.values_list("pk", flat=True)), schedulable=True
        )
        self.message_user(request, f"Undrained {count} agent(s).", messages.SUCCESS)

    @admin.action(description="Rescan images reported by these agents", permissions=["change"])
    def rescan_images(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        result = images_rescan_from_agents(agent_ids=queryset.values_list("pk", flat=True))
        _report_scan(self, request, result.created, result.updated, result.errors)


def _report_scan(
    model_admin: ModelAdmin,
    request: HttpRequest,
    created: int,
    updated: int,
    errors: list[str],
) -> None:
    model_admin.message_user(
        request, f"Images: {created} added, {updated} updated.", messages.SUCCESS
    )
    for error in errors:
        model_admin.message_user(request, error, messages.WARNING)


class ImageAliasInline(TabularInline):
    model = ImageAlias
    extra = 0


@admin.register(Image)
class ImageAdmin(ModelAdmin):
    list_display = ("__str__", "architecture", "registry", "digest_short", "modified_at")
    list_filter = ("architecture", "registry")
    search_fields = ("name", "tag", "aliases__alias")
    list_select_related = ("registry",)
    readonly_fields = ("created_at", "modified_at")
    inlines = (ImageAliasInline,)
    actions = ("rescan_images",)

    @admin.display(description="digest")
    def digest_short(self, obj: Image) -> str:
        return obj.digest[:19]

    @admin.action(description="Rescan images from agents and registries", permissions=["change"])
    def rescan_images(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        result = images_rescan_from_agents()
        _report_scan(self, request, result.created, result.updated, result.errors)
        for registry_name, scan in registries_rescan().items():
            errors = [f"{registry_name}: {error}" for error in scan.errors]
            _report_scan(self, request, scan.created, scan.updated, errors)


@admin.register(ImageAlias)
class ImageAliasAdmin(ModelAdmin):
    list_display = ("alias", "image")
    search_fields = ("alias", "image__name")
    list_select_related = ("image", "image__registry")


class ContainerRegistryForm(forms.ModelForm):
    """The password is write-only: never rendered back; left empty it keeps the stored one."""

    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = ContainerRegistry
        fields = (
            "name",
            "type",
            "url",
            "project",
            "username",
            "password",
            "ssl_verify",
            "is_active",
        )

    def clean_password(self) -> str:
        value: str = self.cleaned_data.get("password") or ""
        if not value and self.instance.pk is not None:
            return self.instance.password
        return value


@admin.register(ContainerRegistry)
class ContainerRegistryAdmin(ModelAdmin):
    form = ContainerRegistryForm
    list_display = ("name", "url", "project", "username", "ssl_verify", "is_active")
    list_filter = ("is_active", "ssl_verify")
    search_fields = ("name", "url", "project")
    actions = ("rescan_registries",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if not self.has_change_permission(request, obj):
            fields = [name for name in fields if name != "password"]  # read-only view hides it
        return fields

    @admin.action(description="Rescan images in these registries", permissions=["change"])
    def rescan_registries(
        self, request: HttpRequest, queryset: QuerySet[ContainerRegistry]
    ) -> None:
        for registry_name, scan in registries_rescan(registries=list(queryset)).items():
            errors = [f"{registry_name}: {error}" for error in scan.errors]
            _report_scan(self, request, scan.created, scan.updated, errors)


@admin.register(ResourcePreset)
class ResourcePresetAdmin(ModelAdmin):
    """Slots are validated by the model field (`validate_resource_slots`): "2", "4g", ..."""

    list_display = ("name", "resource_group", "resource_slots", "shared_memory", "created_at")
    list_filter = ("resource_group",)
    search_fields = ("name",)
    list_select_related = ("resource_group",)
