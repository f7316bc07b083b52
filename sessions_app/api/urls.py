from __future__ import annotations

from django.urls import path

from .streams import session_collection, session_events
from .views import (
    SessionDependencyGraphView,
    SessionDetailView,
    SessionLogsView,
    SessionRenameView,
    SessionStatusHistoryView,
)

urlpatterns = [
    path("session", session_collection, name="session-collection"),
    path("session/<str:ref>", SessionDetailView.as_view(), name="session-detail"),
    path("session/<str:ref>/rename", SessionRenameView.as_view(), name="session-rename"),
    path("session/<str:ref>/logs", SessionLogsView.as_view(), name="session-logs"),
    path(
        "session/<str:ref>/status-history",
        SessionStatusHistoryView.as_view(),
        name="session-status-history",
    ),
    path(
        "session/<str:ref>/dependency-graph",
        SessionDependencyGraphView.as_view(),
        name="session-dependency-graph",
    ),
    path("events/session", session_events, name="session-events"),
]
