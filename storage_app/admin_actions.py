"""What a folder's admin page shows and offers beyond its fields: the live sessions that mount
it, its usage against its quota, and a button that measures it again on disk.

The button is asked of the admin's own rule (`has_change_permission` on a folder the list's
scoped queryset reaches: superadmins, and domain admins inside their domain; never monitors).
It is a POSTed confirmation, so the audit log records it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.decorators import action
from unfold.forms import BaseDialogForm

from backendai_site.console import formatting
from backendai_site.console.actions import action_done, confirm_dialog, scoped_object

from .models import VFolder
from .services.folders import vfolder_usage_refresh
from .services.transfer import vfolder_quota_limit
from .services.usage_hooks import vfolder_mount_users


def _change_url(object_id: Any) -> str:
    return reverse("admin:storage_app_vfolder_change", args=(object_id,))


class VFolderPageMixin:
    """Read-only displays and detail actions of `VFolderAdmin`."""

    if TYPE_CHECKING:  # provided by VFolderAdmin and ModelAdmin

        def get_queryset(self, request: HttpRequest) -> QuerySet[VFolder]: ...

        def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool: ...

    def _reached(self, request: HttpRequest, object_id: Any) -> VFolder:
        return scoped_object(self.get_queryset(request), object_id, "folder")

    def has_measure_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        if object_id is None or not self.has_change_permission(request):
            return False
        try:
            self._reached(request, object_id)
        except Http404:
            return False
        return True

    @admin.display(description="mounted by")
    def live_mounts(self, obj: VFolder) -> str:
        """Each live session mounting the folder, linked to its page."""
        sessions = vfolder_mount_users([obj.pk]).get(obj.pk, [])
        if not sessions:
            return "no live session mounts it"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:sessions_app_session_change", args=(sid,)), sid[:8])
                for sid in sessions
            ),
        )

    @admin.display(description="usage")
    def usage_summary(self, obj: VFolder) -> str:
        """Bytes and files used, against the quota that applies, and when they were counted."""
        used = formatting.size(obj.cur_size)
        limit = vfolder_quota_limit(obj)
        quota = (
            "no quota"
            if limit is None
            else f"of {formatting.size(limit)} ({formatting.percent(obj.cur_size, limit)}%)"
        )
        counted = (
            f"counted {formatting.age(obj.usage_updated_at)}"
            if obj.usage_updated_at
            else "not counted yet"
        )
        return format_html("{} {}, {} files; {}", used, quota, obj.num_files, counted)

    @action(
        description="Recalculate usage",
        icon="calculate",
        permissions=["measure"],
        dialog=confirm_dialog(
            "Recalculate this folder's usage?",
            "Its files are counted and measured on disk again; a large folder takes a while.",
            "Recalculate",
        ),
    )
    def recalculate_folder_usage(
        self, request: HttpRequest, form: BaseDialogForm, object_id: str
    ) -> HttpResponse:
        vfolder = vfolder_usage_refresh(self._reached(request, object_id))
        messages.success(
            request,
            f"{vfolder.name}: {formatting.size(vfolder.cur_size)} in {vfolder.num_files} files.",
        )
        return action_done(request, _change_url(object_id))
