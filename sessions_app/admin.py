"""Sessions in the admin console: status, the scheduler's verdict, owner, agents and history."""

from __future__ import annotations

import json
from typing import Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from backendai_site.accounts.models import User
from backendai_site.console import formatting

from . import (
    admin_fair_share,  # noqa: F401  (registers the fair-share weights' admin)
    admin_usage,  # noqa: F401  (registers the usage ledger's admin)
    admin_warm_pools,  # noqa: F401  (registers the warm pools' admin)
)
from .admin_actions import SessionActionsMixin
from .enums import SessionAction, SessionStatus
from .models import Kernel, Session, SessionStatusHistory
from .selectors import sessions_for
from .services.idle import session_idle_checks
from .services.lifecycle import session_destroy


class KernelInline(TabularInline):
    model = Kernel
    extra = 0
    can_delete = False
    fields = (
        "cluster_hostname",
        "agent",
        "status",
        "status_info",
        "container_id",
        "occupied",
        "host_ports",
        "exit_code",
        "oom_killed",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="occupied")
    def occupied(self, obj: Kernel) -> str:
        return formatting.slots(obj.occupied_slots)


class HistoryInline(TabularInline):
    model = SessionStatusHistory
    extra = 0
    can_delete = False
    fields = ("at", "status", "reason")
    readonly_fields = fields
    ordering = ("at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Session)
class SessionAdmin(SessionActionsMixin, ModelAdmin):
    list_display = (
        "name",
        "status_badge",
        "verdict",
        "session_type",
        "access_key",
        "project",
        "resource_group",
        "agents",
        "created",
    )
    list_filter = ("status", "session_type", "resource_group", "domain")
    search_fields = ("name", "id", "access_key__access_key", "user__email")
    list_select_related = ("access_key", "project", "resource_group")
    readonly_fields = (
        "id",
        "status",
        "status_info",
        "verdict_detail",
        "idle_checks",
        "status_changed",
        "result",
        "access_key",
        "user",
        "domain",
        "project",
        "resource_group",
        "image",
        "requested",
        "occupying",
        "created_at",
        "terminated_at",
    )
    fields = (
        "id",
        "name",
        "session_type",
        "status",
        "status_info",
        "verdict_detail",
        "idle_checks",
        "result",
        "priority",
        "access_key",
        "user",
        "domain",
        "project",
        "resource_group",
        "image",
        "requested",
        "occupying",
        "startup_command",
        "created_at",
        "terminated_at",
    )
    inlines = (KernelInline, HistoryInline)
    actions = ("terminate_sessions", "force_terminate_sessions")
    # buttons on the session's page; admin_actions.py decides who sees each
    actions_detail = (
        "open_terminal",
        "open_app",
        "tail_logs",
        "restart_session",
        "change_priority",
        "destroy_session",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        # The one session rule: a monitor of one domain sees that domain's sessions only.
        visible = sessions_for(cast(User, request.user), SessionAction.VIEW)
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=visible.values("pk"))
            .prefetch_related("kernels")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions are created through the API, which runs every policy check

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a session ends through its destroy action; its record stays for history

    @display(description="status", ordering="status", label=formatting.SESSION_STATUS_LABELS)
    def status_badge(self, obj: Session) -> str:
        return obj.status

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Session) -> str:
        return format_html(
            '<span title="{}">{}</span>',
            formatting.clock(obj.created_at),
            formatting.age(obj.created_at),
        )

    @admin.display(description="requested (per kernel)")
    def requested(self, obj: Session) -> str:
        return formatting.slots(obj.requested_slots)

    @admin.display(description="occupying (all kernels)")
    def occupying(self, obj: Session) -> str:
        return formatting.slots(obj.occupying_slots)

    @admin.display(description="why pending")
    def verdict(self, obj: Session) -> str:
        if obj.status != SessionStatus.PENDING:
            return ""
        verdict = (obj.status_data or {}).get("scheduler") or {}
        return formatting.verdict(verdict, scheduler=obj.resource_group.get_scheduler_display())

    @admin.display(description="scheduler verdict")
    def verdict_detail(self, obj: Session) -> str:
        """The verdict in words, the scheduler's own message and checks one click away."""
        verdict = (obj.status_data or {}).get("scheduler")
        if not verdict:
            return "-"
        sentence = formatting.verdict(verdict, scheduler=obj.resource_group.get_scheduler_display())
        return format_html(
            "<p>{}</p><details><summary>{} (the scheduler's data)</summary><pre>{}</pre></details>",
            sentence,
            verdict.get("verdict") or "verdict",
            json.dumps(verdict, indent=2),
        )

    @admin.display(description="idle checks")
    def idle_checks(self, obj: Session) -> str:
        lines = formatting.idle_checks(session_idle_checks(obj))
        if not lines:
            return "-"
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    @admin.display(description="agents")
    def agents(self, obj: Session) -> str:
        return ", ".join(sorted({k.agent_id for k in obj.kernels.all() if k.agent_id}))

    @admin.action(description="Terminate selected sessions", permissions=["change"])
    def terminate_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        for session in queryset:
            session_destroy(session=session, reason="admin-requested")
        self.message_user(request, "Termination requested.", messages.SUCCESS)

    @admin.action(description="Force-terminate selected sessions", permissions=["change"])
    def force_terminate_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        for session in queryset:
            session_destroy(session=session, forced=True, reason="admin-forced")
        self.message_user(request, "Sessions force-terminated.", messages.SUCCESS)
