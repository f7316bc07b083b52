"""Console page of the audit log: read-only (no add, change or delete for anyone), scoped like
the API (`selectors.audit_entries_visible_to`)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from backendai_site.accounts.models import User

from .models import AuditLogEntry
from .selectors import audit_entries_visible_to


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ModelAdmin):
    list_display = (
        "at",
        "user_email",
        "role",
        "access_key",
        "acting_as_access_key",
        "action",
        "target_type",
        "target_id",
        "outcome",
        "status_code",
        "remote_addr",
        "request_id",
    )
    list_filter = ("outcome", "action", "role", "method")
    date_hierarchy = "at"
    search_fields = ("user_email", "access_key", "acting_as_access_key", "target_id", "request_id")
    readonly_fields = tuple(f.name for f in AuditLogEntry._meta.fields)
    fields = readonly_fields
    actions = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditLogEntry]:
        user = request.user
        if not isinstance(user, User):
            return AuditLogEntry.objects.none()
        return audit_entries_visible_to(actor=user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False
