from __future__ import annotations

from django.urls import path

from .views import (
    AnnouncementView,
    ErrorLogClearView,
    ErrorLogView,
    ManagerStatusView,
    SchedulerOperationView,
)

urlpatterns = [
    path("manager/status", ManagerStatusView.as_view(), name="manager-status"),
    path("manager/announcement", AnnouncementView.as_view(), name="announcement"),
    path(
        "manager/scheduler/operation",
        SchedulerOperationView.as_view(),
        name="manager-scheduler-operation",
    ),
    path("logs/error", ErrorLogView.as_view(), name="error-logs"),
    path("logs/error/<str:log_id>/clear", ErrorLogClearView.as_view(), name="error-log-clear"),
]
