"""The usage ledger in the admin console: read-only rows, filtered by project, user, resource
group and period, with totals per project and user of what the filters select and a CSV export
of the same rows. The rows a user sees follow `selectors_usage.usage_scope`."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from unfold.admin import ModelAdmin

from backendai_site.accounts.models import User
from backendai_site.console import formatting

from .models import UsageInterval
from .selectors_usage import usage_csv_stream, usage_scope, usage_totals, usage_totals_combine

TOTALS_LIMIT = 200


@admin.register(UsageInterval)
class UsageIntervalAdmin(ModelAdmin):
    list_display = (
        "started_at", "ended_at", "duration", "kind", "user_email", "project_name",
        "domain_name", "resource_group", "session_name", "used",
    )  # fmt: skip
    list_filter = ("kind", "resource_group", "domain_name", "project_name", "user_email")
    search_fields = ("user_email", "access_key", "session_name", "=kernel_id", "=session_id")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[UsageInterval]:
        return super().get_queryset(request).filter(usage_scope(cast(User, request.user)))

    @admin.display(description="duration", ordering="seconds")
    def duration(self, obj: UsageInterval) -> str:
        return formatting.duration(obj.seconds)

    @admin.display(description="used (slot-hours)")
    def used(self, obj: UsageInterval) -> str:
        hours = {
            slot: formatting.gauge_value(slot, amount) / 3600
            for slot, amount in (obj.slot_seconds or {}).items()
        }
        return formatting.slot_hours(hours)

    # append-only: nobody adds, changes or deletes a row here (a trigger refuses it anyway)
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_view),
            name="sessions_app_usageinterval_export",
        )
        return [export, *super().get_urls()]

    def _filtered(self, request: HttpRequest) -> QuerySet[UsageInterval]:
        return self.get_changelist_instance(request).get_queryset(request)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            changelist = response.context_data.get("cl")
            if changelist is not None:
                rows = changelist.get_queryset(request)
                totals = usage_totals(rows, by=("project_name", "user_email"))
                grand = usage_totals_combine(totals)
                response.context_data["usage_totals"] = [
                    {
                        "project": t.key[0], "user": t.key[1], "kernels": t.kernels,
                        "hours": round(t.seconds / 3600, 4),
                        "slot_hours": {k: round(v, 4) for k, v in sorted(t.slot_hours().items())},
                    }
                    for t in totals[:TOTALS_LIMIT]
                ]  # fmt: skip
                response.context_data["usage_totals_truncated"] = len(totals) > TOTALS_LIMIT
                response.context_data["usage_grand_total"] = (
                    {
                        "kernels": grand.kernels,
                        "hours": round(grand.seconds / 3600, 4),
                        "slot_hours": {
                            k: round(v, 4) for k, v in sorted(grand.slot_hours().items())
                        },
                    }
                    if grand is not None
                    else None
                )
                response.context_data["usage_export_query"] = request.GET.urlencode()
        return response

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            usage_csv_stream(self._filtered(request)), content_type="text/csv"
        )
        response["Content-Disposition"] = 'attachment; filename="usage.csv"'
        return response
