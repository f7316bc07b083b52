from __future__ import annotations

import django_filters

from sessions_app.enums import SessionStatus, SessionType
from sessions_app.models import Session


class SessionFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=SessionStatus.choices)
    type = django_filters.ChoiceFilter(field_name="session_type", choices=SessionType.choices)
    owner = django_filters.CharFilter(field_name="access_key_id")
    project = django_filters.CharFilter(field_name="project__name")
    resource_group = django_filters.CharFilter(field_name="resource_group__name")
    name = django_filters.CharFilter(field_name="name")

    class Meta:
        model = Session
        fields = ("status", "type", "owner", "project", "resource_group", "name")
