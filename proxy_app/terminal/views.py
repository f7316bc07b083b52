"""The browser terminal: a page for the session's owner (or its admins) and its static assets.

The assets are served by this view rather than by collectstatic so the page works on any web
role, including ones started without `collectstatic` (tests); they are small and cached.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.template.backends.django import DjangoTemplates
from django.urls import reverse

from backendai_site.accounts.models import User
from sessions_app.enums import SessionAction
from sessions_app.selectors import session_permits, sessions_for

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static" / "terminal"
# This package's own template engine (the project's APP_DIRS look in proxy_app/templates only).
ENGINE = DjangoTemplates(
    {
        "NAME": "proxy_app.terminal",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
)


def _render(request: HttpRequest, name: str, context: dict[str, Any]) -> HttpResponse:
    return HttpResponse(ENGINE.get_template(name).render(context, request))


ASSETS = {
    "xterm.js": ("vendor/xterm.js", "text/javascript"),
    "xterm.css": ("vendor/xterm.css", "text/css"),
    "addon-fit.js": ("vendor/addon-fit.js", "text/javascript"),
    "terminal.js": ("terminal.js", "text/javascript"),
}


class ConsoleLoginView(LoginView):
    """Login for any active user (the admin console's login admits staff only)."""

    template_name = "terminal/login.html"
    redirect_authenticated_user = True

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        return _render(self.request, self.template_name, context)


@login_required(login_url="console-login")
def terminal_page(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """The terminal drives the session's pty (OPERATE): a session the user may not even view is
    not found (404); one they may only view (a monitor's) is forbidden (403)."""
    user = request.user
    if not isinstance(user, User):
        raise Http404("No such session.")
    session = sessions_for(user, SessionAction.VIEW).filter(pk=session_id).first()
    if session is None:
        raise Http404("No such session.")
    if not session_permits(actor=user, session=session, action=SessionAction.OPERATE):
        raise PermissionDenied("Monitors may watch this session but not open its terminal.")
    if not (STATIC_DIR / "vendor" / "xterm.js").exists():
        log.error("terminal assets missing; run scripts/build_frontend.sh")
        return HttpResponse(
            "The terminal assets are not built (scripts/build_frontend.sh).", status=503
        )
    return _render(
        request,
        "terminal/terminal.html",
        {
            "session": session,
            "stream_path": f"/stream/session/{session.pk}/pty",
            "asset_base": reverse("console-terminal-asset", args=["x"])[:-1],
        },
    )


def terminal_asset(request: HttpRequest, name: str) -> FileResponse:
    entry = ASSETS.get(name)
    if entry is None or not (STATIC_DIR / entry[0]).is_file():
        raise Http404("No such asset.")
    response = FileResponse((STATIC_DIR / entry[0]).open("rb"), content_type=entry[1])
    response["Cache-Control"] = "public, max-age=3600"
    return response
