"""`GET /audit-logs`: the audit entries the caller may read, filtered and paginated."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import generics

from backendai_site.accounts.models import User
from backendai_site.audit.models import AuditLogEntry
from backendai_site.audit.selectors import audit_entries_visible_to

from .filters import AuditLogEntryFilter
from .serializers import AuditLogEntryOutputSerializer


class AuditLogListView(generics.ListAPIView[AuditLogEntry]):
    """Superadmins read every entry, domain admins those of their domain's users; anyone else
    is refused (403 `forbidden`). Newest first; `limit`/`offset` pagination."""

    serializer_class = AuditLogEntryOutputSerializer
    filterset_class = AuditLogEntryFilter

    def get_queryset(self) -> QuerySet[AuditLogEntry]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the filters
            return AuditLogEntry.objects.none()
        user = self.request.user
        assert isinstance(user, User)
        return audit_entries_visible_to(actor=user).order_by("-at", "-id")
