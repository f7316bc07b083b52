from __future__ import annotations

from django.urls import path

from .views import (
    AuthEchoView,
    AuthorizeView,
    VersionView,
)

urlpatterns = [
    path("", VersionView.as_view(), name="api-version"),
    path("func/", VersionView.as_view(), name="api-version-session-mode"),
    path("auth", AuthEchoView.as_view(), name="auth-echo"),
    path("auth/authorize", AuthorizeView.as_view(), name="auth-authorize"),
]
