from __future__ import annotations

from django.urls import path

from .views import (
    AuthEchoView,
    AuthorizeView,
    UpdatePasswordNoAuthView,
    VersionView,
)

urlpatterns = [
    path("", VersionView.as_view(), name="api-version"),
    path("func/", VersionView.as_view(), name="api-version-session-mode"),
    path("auth", AuthEchoView.as_view(), name="auth-echo"),
    path("auth/authorize", AuthorizeView.as_view(), name="auth-authorize"),
    path(
        "auth/update-password-no-auth",
        UpdatePasswordNoAuthView.as_view(),
        name="auth-update-password-no-auth",
    ),
]
