"""Console pages: the manager state (freeze/unfreeze actions) and the error log (read-only)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from backendai_site.accounts.models import User

from .enums import ManagerStatus
from .models import ErrorLog, ManagerState
from .schemas import ManagerStatusUpdate
from .services import manager_status_update


@admin.register(ManagerState)
class ManagerStateAdmin(ModelAdmin):
    list_display = ("status", "status_changed", "announcement_enabled", "modified_at")
    readonly_fields = (
        "status",
        "status_changed",
        "announcement_enabled",
        "announcement_message",
        "modified_at",
    )
    fields = readonly_fields
    actions = ("freeze", "unfreeze")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def _set(self, request: HttpRequest, status: ManagerStatus) -> None:
        actor = request.user
        assert isinstance(actor, User)
        manager_status_update(actor=actor, update=ManagerStatusUpdate(status=status))
        self.message_user(request, f"Manager is {status}.", messages.SUCCESS)

    @admin.action(description="Freeze: refuse new sessions (running ones go on)")
    def freeze(self, request: HttpRequest, queryset: QuerySet[ManagerState]) -> None:
        self._set(request, ManagerStatus.FROZEN)

    @admin.action(description="Unfreeze: accept new sessions again")
    def unfreeze(self, request: HttpRequest, queryset: QuerySet[ManagerState]) -> None:
        self._set(request, ManagerStatus.RUNNING)


@admin.register(ErrorLog)
class ErrorLogAdmin(ModelAdmin):
    list_display = ("created_at", "severity", "source", "user", "request_status", "request_url")
    list_filter = ("severity", "source", "is_read", "is_cleared")
    search_fields = ("message", "request_url")
    readonly_fields = tuple(f.name for f in ErrorLog._meta.fields)
    actions = ("mark_cleared",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Mark cleared")
    def mark_cleared(self, request: HttpRequest, queryset: QuerySet[ErrorLog]) -> None:
        count = queryset.update(is_cleared=True)
        self.message_user(request, f"{count} log(s) cleared.", messages.SUCCESS)
