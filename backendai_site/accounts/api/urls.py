from __future__ import annotations

from django.urls import path

from .views import (
    AnnouncementView,
    AuthEchoView,
    AuthorizeView,
    VersionView,
)

urlpatterns = [
    path("", VersionView.as_view(), name="api-version"),
    path("func/", VersionView.as_view(), name="api-version-session-mode"),
    path("manager/announcement", AnnouncementView.as_view(), name="announcement"),
    path("auth", AuthEchoView.as_view(), name="auth-echo"),
    path("auth/authorize", AuthorizeView.as_view(), name="auth-authorize"),
]
