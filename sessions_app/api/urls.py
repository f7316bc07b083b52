from __future__ import annotations

from django.urls import path

from .streams import session_collection, session_create_from_template, session_events
from .urls_fair_share import urlpatterns as fair_share_urlpatterns
from .views import (
    SessionDependencyGraphView,
    SessionDetailView,
    SessionLogsView,
    SessionRenameView,
    SessionStatusHistoryView,
)
from .views_capacity import CheckPresetsView, RecalculateUsageView
from .views_commit import SessionCommitView, SessionImagifyView
from .views_exec import (
    SessionAppsView,
    SessionCompleteView,
    SessionDownloadView,
    SessionFilesView,
    SessionInterruptView,
    SessionStartServiceView,
    SessionUploadView,
)
from .views_history import SessionHistorySearchView
from .views_scheduler import SchedulerDryRunView
from .views_usage import (
    UsageExportView,
    UsageMonthView,
    UsagePeriodView,
    UsageTotalsView,
    UserMonthStatsView,
)
from .views_usage_buckets import (
    DomainBucketSearchView,
    ProjectBucketSearchView,
    UserBucketSearchView,
)

urlpatterns = [
    path("session", session_collection, name="session-collection"),
    path(
        "session/_/create-from-template",
        session_create_from_template,
        name="session-create-from-template",
    ),
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
    path("resource/check-presets", CheckPresetsView.as_view(), name="resource-check-presets"),
    path(
        "resource/recalculate-usage",
        RecalculateUsageView.as_view(),
        name="resource-recalculate-usage",
    ),
    path("resource/usage/month", UsageMonthView.as_view(), name="resource-usage-month"),
    path("resource/usage/period", UsagePeriodView.as_view(), name="resource-usage-period"),
    path("resource/usage/totals", UsageTotalsView.as_view(), name="resource-usage-totals"),
    path("resource/usage/export.csv", UsageExportView.as_view(), name="resource-usage-export"),
    path(
        "fair-share/usage-buckets/domains/search",
        DomainBucketSearchView.as_view(),
        name="fair-share-usage-buckets-domains",
    ),
    path(
        "fair-share/usage-buckets/projects/search",
        ProjectBucketSearchView.as_view(),
        name="fair-share-usage-buckets-projects",
    ),
    path(
        "fair-share/usage-buckets/users/search",
        UserBucketSearchView.as_view(),
        name="fair-share-usage-buckets-users",
    ),
    path(
        "resource/stats/user/month", UserMonthStatsView.as_view(), name="resource-stats-user-month"
    ),
    path("session/<str:ref>/interrupt", SessionInterruptView.as_view(), name="session-interrupt"),
    path("session/<str:ref>/complete", SessionCompleteView.as_view(), name="session-complete"),
    path(
        "session/<str:ref>/start-service",
        SessionStartServiceView.as_view(),
        name="session-start-service",
    ),
    path("session/<str:ref>/upload", SessionUploadView.as_view(), name="session-upload"),
    path("session/<str:ref>/download", SessionDownloadView.as_view(), name="session-download"),
    path("session/<str:ref>/files", SessionFilesView.as_view(), name="session-files"),
    path("stream/session/<str:ref>/apps", SessionAppsView.as_view(), name="session-apps"),
    path("scheduler/dry-run", SchedulerDryRunView.as_view(), name="scheduler-dry-run"),
    path(
        "scheduling-history/sessions/search",
        SessionHistorySearchView.as_view(),
        name="scheduling-history-sessions",
    ),
    # saving a session as an image (services/commit.py)
    path("session/<str:ref>/commit", SessionCommitView.as_view(), name="session-commit"),
    path("session/<str:ref>/imagify", SessionImagifyView.as_view(), name="session-imagify"),
]
urlpatterns += fair_share_urlpatterns
