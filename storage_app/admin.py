"""The admin console for storage: volumes with usage, folders with owner, size, status and
mounts, invitations; trash, restore, purge and recalculate-usage actions (the list's, asked of
the change permission) and the folder page's own (admin_actions.py).

Domain admins see and act on their own domain's folders only (DomainScopedAdmin); folders are
created through the API (which creates their directory), never here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline

from backendai_site.accounts.admin import DomainScopedAdmin
from backendai_site.accounts.models import User
from backendai_site.common.errors import BackendError
from backendai_site.common.resource_slot import format_binary_size

from .admin_actions import VFolderPageMixin
from .enums import VFolderStatus
from .models import StorageVolume, VFolder, VFolderInvitation, VFolderPermission
from .selectors import vfolder_access
from .services.folders import (
    vfolder_purge,
    vfolder_restore,
    vfolder_trash,
    vfolder_usage_refresh,
)
from .services.usage_hooks import vfolder_mount_users
from .services.volumes import volume_backend


@admin.register(StorageVolume)
class StorageVolumeAdmin(ModelAdmin):
    list_display = ("name", "backend", "mount_path", "is_active", "folders", "usage")
    list_filter = ("backend", "is_active")

    def get_queryset(self, request: HttpRequest) -> QuerySet[StorageVolume]:
        live = Q(vfolders__status__in=sorted(VFolderStatus.live()))
        return super().get_queryset(request).annotate(folder_count=Count("vfolders", filter=live))

    @admin.display(description="folders")
    def folders(self, obj: StorageVolume) -> int:
        return int(getattr(obj, "folder_count", 0))

    @admin.display(description="disk used / capacity")
    def usage(self, obj: StorageVolume) -> str:
        try:
            capacity, used = volume_backend(obj).volume_usage()
        except OSError:
            return "unreachable"
        return f"{format_binary_size(used)} / {format_binary_size(capacity)}"


class VFolderPermissionInline(TabularInline):
    model = VFolderPermission
    extra = 0
    autocomplete_fields = ("user",)


def _run(request: HttpRequest, queryset: QuerySet[VFolder], action: Any, verb: str) -> None:
    user = request.user
    assert isinstance(user, User)
    done = 0
    for vfolder in queryset.select_related("volume", "project"):
        try:
            action(user=user, access=vfolder_access(user=user, vfolder=vfolder))
            done += 1
        except (BackendError, OSError) as exc:
            messages.error(request, f"{vfolder.name}: {exc}")
    if done:
        messages.success(request, f"{verb} {done} folder(s).")


@admin.register(VFolder)
class VFolderAdmin(VFolderPageMixin, DomainScopedAdmin):
    list_display = (
        "name", "host", "owner", "ownership_type", "usage_mode", "size", "num_files", "status",
        "mounted_by", "created_at",
    )  # fmt: skip
    list_filter = ("status", "ownership_type", "usage_mode", "host")
    search_fields = ("name", "user__email", "project__name", "id")
    readonly_fields = (
        "id", "volume", "host", "quota_scope_id", "ownership_type", "user", "project", "domain",
        "creator", "status", "status_changed", "usage_summary", "live_mounts", "created_at",
        "last_used",
    )  # fmt: skip
    inlines = (VFolderPermissionInline,)
    actions = ("trash", "restore", "purge", "recalculate_usage")
    actions_detail = ("recalculate_folder_usage",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[VFolder]:
        return super().get_queryset(request).select_related("user", "project", "volume")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="owner")
    def owner(self, obj: VFolder) -> str:
        return obj.user.email if obj.user else f"project {obj.project.name if obj.project else '?'}"

    @admin.display(description="size", ordering="cur_size")
    def size(self, obj: VFolder) -> str:
        return format_binary_size(obj.cur_size)

    @admin.display(description="mounted by")
    def mounted_by(self, obj: VFolder) -> str:
        sessions = vfolder_mount_users([obj.pk]).get(obj.pk, [])
        return ", ".join(s[:8] for s in sessions) or "-"

    @admin.action(description="Move to the trash bin", permissions=["change"])
    def trash(self, request: HttpRequest, queryset: QuerySet[VFolder]) -> None:
        _run(request, queryset, vfolder_trash, "Trashed")

    @admin.action(description="Restore from the trash bin", permissions=["change"])
    def restore(self, request: HttpRequest, queryset: QuerySet[VFolder]) -> None:
        _run(request, queryset, vfolder_restore, "Restored")

    @admin.action(description="Purge (delete the files for good)", permissions=["change"])
    def purge(self, request: HttpRequest, queryset: QuerySet[VFolder]) -> None:
        _run(request, queryset, vfolder_purge, "Purged")

    @admin.action(description="Recalculate usage", permissions=["change"])
    def recalculate_usage(self, request: HttpRequest, queryset: QuerySet[VFolder]) -> None:
        count = 0
        for vfolder in queryset.select_related("volume"):
            vfolder_usage_refresh(vfolder)
            count += 1
        messages.success(request, f"Recalculated {count} folder(s).")


@admin.register(VFolderInvitation)
class VFolderInvitationAdmin(DomainScopedAdmin):
    domain_lookup = "vfolder__domain"
    list_display = ("vfolder", "inviter", "invitee", "permission", "state", "created_at")
    list_filter = ("state", "permission")
    search_fields = ("vfolder__name", "inviter__email", "invitee__email")
    readonly_fields = ("vfolder", "inviter", "invitee", "created_at", "modified_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
