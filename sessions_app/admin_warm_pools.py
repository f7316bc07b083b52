"""Warm pools in the admin console: shape, target and fill, hits, misses, refill times."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline

from .models import PooledKernel, WarmPool
from .selectors import warm_pools_with_fill
from .services.warm_pools import warm_pools_refill_hint


class PooledKernelInline(TabularInline):
    model = PooledKernel
    extra = 0
    can_delete = False
    fields = ("id", "agent", "status", "status_info", "created_at", "ready_at", "session")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[PooledKernel]:
        return super().get_queryset(request).exclude(status="TERMINATED")


@admin.register(WarmPool)
class WarmPoolAdmin(ModelAdmin):
    list_display = (
        "id",
        "resource_group",
        "image",
        "slots",
        "fill",
        "enabled",
        "hits",
        "misses",
        "last_refill_ms",
        "mean_refill_ms",
        "max_age_seconds",
    )
    list_filter = ("enabled", "resource_group")
    readonly_fields = ("hits", "misses", "refills", "last_refill_ms", "mean_refill_ms")
    inlines = (PooledKernelInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WarmPool]:
        return warm_pools_with_fill(super().get_queryset(request))

    @admin.display(description="ready / creating / target")
    def fill(self, obj: WarmPool) -> str:
        return f"{getattr(obj, 'ready_count', 0)} / {getattr(obj, 'creating_count', 0)} / " + (
            f"{obj.target_size}"
        )

    @admin.display(description="mean refill ms")
    def mean_refill_ms(self, obj: WarmPool) -> int | None:
        return obj.refill_ms_total // obj.refills if obj.refills else None

    def save_model(self, request: HttpRequest, obj: WarmPool, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        warm_pools_refill_hint()
