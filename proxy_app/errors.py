"""Errors of the proxy app, each with its own stable type."""

from __future__ import annotations

from backendai_site.common.errors import PermissionDenied, ServiceUnavailable
from sessions_app.errors import AppNotFound


class ProxiedAppNotFound(AppNotFound):
    """The session's own `AppNotFound`, titled for a request through the app proxy."""

    title = "No such app in this session."


class AppAccessDenied(PermissionDenied):
    error_type = "app-access-denied"
    title = "Only the session's owner and its admins may open its apps."


class AppNotRunning(ServiceUnavailable):
    error_type = "app-not-running"
    title = "The app could not be started."
