from __future__ import annotations

from django.urls import path

from .session_views import ServerLoginView, ServerLogoutView, UpdatePasswordView
from .ssh_views import SSHKeypairView
from .views import (
    AuthEchoView,
    AuthorizeView,
    UpdatePasswordNoAuthView,
    VersionView,
)

urlpatterns = [
    path("", VersionView.as_view(), name="api-version"),
    path("auth", AuthEchoView.as_view(), name="auth-echo"),
    path("auth/authorize", AuthorizeView.as_view(), name="auth-authorize"),
    path(
        "auth/update-password-no-auth",
        UpdatePasswordNoAuthView.as_view(),
        name="auth-update-password-no-auth",
    ),
    path("auth/update-password", UpdatePasswordView.as_view(), name="auth-update-password"),
    path("auth/ssh-keypair", SSHKeypairView.as_view(), name="auth-ssh-keypair"),
    path("server/login", ServerLoginView.as_view(), name="server-login"),
    path("server/logout", ServerLogoutView.as_view(), name="server-logout"),
]
