from __future__ import annotations

from rest_framework import serializers

from backendai_site.audit.models import AuditLogEntry


class AuditLogEntryOutputSerializer(serializers.ModelSerializer[AuditLogEntry]):
    class Meta:
        model = AuditLogEntry
        fields = (
            "id",
            "at",
            "request_id",
            "user_id",
            "user_email",
            "role",
            "domain_name",
            "access_key",
            "remote_addr",
            "acting_as_access_key",
            "acting_as_email",
            "action",
            "view_name",
            "target_type",
            "target_id",
            "outcome",
            "status_code",
            "method",
            "path",
        )
        read_only_fields = fields
