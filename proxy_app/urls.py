"""HTTP routes of proxy_app: app links (API and console) and the browser terminal page."""

from __future__ import annotations

from django.urls import path

from proxy_app.apps_proxy.views import AppLinkView, console_app_open
from proxy_app.terminal.views import ConsoleLoginView, terminal_asset, terminal_page

urlpatterns = [
    path("session/<str:ref>/app-link", AppLinkView.as_view(), name="session-app-link"),
    path(
        "console/session/<uuid:session_id>/apps/<str:app>",
        console_app_open,
        name="console-app-open",
    ),
    path("console/login", ConsoleLoginView.as_view(), name="console-login"),
    path("console/terminal/assets/<str:name>", terminal_asset, name="console-terminal-asset"),
    path(
        "console/session/<uuid:session_id>/terminal",
        terminal_page,
        name="console-terminal",
    ),
]
