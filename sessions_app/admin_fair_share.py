"""Fair-share weights in the admin console: every staff member with the model's view permission
reads them; only superadmins add, change or delete (a domain admin raising its own domain's
share would be judge in its own cause)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User

from .models import FairShareWeight


def _is_superadmin(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and user.role == UserRole.SUPERADMIN


@admin.register(FairShareWeight)
class FairShareWeightAdmin(ModelAdmin):
    list_display = ("target", "resource_group", "weight", "updated_at")
    list_select_related = ("domain", "project", "user", "resource_group")
    list_filter = ("resource_group",)
    search_fields = ("domain__name", "project__name", "user__email", "user__username")
    raw_id_fields = ("project", "user")
    fields = ("resource_group", "domain", "project", "user", "weight", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="target")
    def target(self, obj: FairShareWeight) -> str:
        if obj.domain is not None:
            return f"domain {obj.domain.name}"
        if obj.user is not None:
            where = f" in project {obj.project.name}" if obj.project is not None else ""
            return f"user {obj.user.email}{where}"
        if obj.project is not None:
            return f"project {obj.project.name}"
        return "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_superadmin(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superadmin(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superadmin(request) and super().has_delete_permission(request, obj)
