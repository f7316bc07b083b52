"""Filters of `GET /audit-logs` (django-filter: a bad value is a 400, never a 500)."""

from __future__ import annotations

import uuid

import django_filters
from django.db.models import Q, QuerySet

from backendai_site.audit.enums import AuditOutcome
from backendai_site.audit.models import AuditLogEntry


class AuditLogEntryFilter(django_filters.FilterSet):
    user = django_filters.CharFilter(method="filter_user", help_text="Actor e-mail or uuid.")
    access_key = django_filters.CharFilter(field_name="access_key")
    action = django_filters.CharFilter(field_name="action")
    target_type = django_filters.CharFilter(field_name="target_type")
    target_id = django_filters.CharFilter(field_name="target_id")
    outcome = django_filters.ChoiceFilter(field_name="outcome", choices=AuditOutcome.choices)
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditLogEntry
        fields = (
            "user",
            "access_key",
            "action",
            "target_type",
            "target_id",
            "outcome",
            "since",
            "until",
        )

    def filter_user(
        self, queryset: QuerySet[AuditLogEntry], name: str, value: str
    ) -> QuerySet[AuditLogEntry]:
        try:
            user_id = uuid.UUID(value)
        except ValueError:
            return queryset.filter(user_email__iexact=value)
        return queryset.filter(Q(user_id=user_id) | Q(user_email__iexact=value))
