"""The buttons on a session's admin page: open its terminal and apps, tail its logs, restart,
destroy and change its priority.

Each asks the one session rule (`sessions_for(user, action)`): opening the terminal or an app is
OPERATE, reading logs is VIEW, restart, destroy and priority are MANAGE, exactly as the API asks
them. The changes go through the API's services (`session_restart`, `session_destroy`,
`session_priority_set`).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.dataclasses import ActionDialog
from unfold.decorators import action
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm

from backendai_site.accounts.models import User
from backendai_site.common.errors import BackendError
from backendai_site.console.actions import (
    action_done,
    action_refused,
    confirm_dialog,
    scoped_object,
)

from .enums import KernelRole, SessionAction, SessionStatus
from .models import Session
from .selectors import sessions_for
from .services.lifecycle import session_destroy, session_restart
from .services.logs import session_logs
from .services.priority import PRIORITY_MAX, PRIORITY_MIN, session_priority_set

APP_PROTOCOLS = frozenset({"http", "preopen"})


def session_for_action(request: HttpRequest, object_id: Any, action: SessionAction) -> Session:
    """The session `object_id` if the console user may `action` it, else None-like 404."""
    user = request.user
    if not isinstance(user, User) or object_id is None:
        raise Http404("No such session.")
    return scoped_object(sessions_for(user, action), object_id, "session")


def _permits(request: HttpRequest, object_id: Any, action: SessionAction) -> bool:
    """Whether the button shows (and its POST is accepted): only on an object's page."""
    if object_id is None:
        return False
    try:
        session_for_action(request, object_id, action)
    except Http404:
        return False
    return True


def session_app_names(session: Session) -> list[str]:
    """The session's HTTP apps (its main kernel's service ports, then its preopen ports)."""
    main = session.kernels.filter(cluster_role=KernelRole.MAIN).first()
    names = [
        str(port.get("name"))
        for port in (main.service_ports if main else None) or []
        if port.get("protocol") in APP_PROTOCOLS and port.get("name")
    ]
    names += [str(p) for p in session.preopen_ports or [] if str(p) not in names]
    return names


class OpenAppForm(BaseDialogForm):
    app = forms.ChoiceField(label="App")

    def __init__(self, request: HttpRequest, object_id: Any = None, *args: Any, **kw: Any):
        super().__init__(request, object_id, *args, **kw)
        session = session_for_action(request, object_id, SessionAction.OPERATE)
        field = cast(forms.ChoiceField, self.fields["app"])
        field.choices = [(name, name) for name in session_app_names(session)]


class DestroyForm(BaseDialogForm):
    forced = forms.BooleanField(
        required=False,
        label="Force",
        help_text="Do not wait for the agent: end the session's record now.",
    )


class PriorityForm(BaseDialogForm):
    priority = forms.IntegerField(min_value=PRIORITY_MIN, max_value=PRIORITY_MAX)

    def __init__(self, request: HttpRequest, object_id: Any = None, *args: Any, **kw: Any):
        super().__init__(request, object_id, *args, **kw)
        session = session_for_action(request, object_id, SessionAction.MANAGE)
        self.fields["priority"].initial = session.priority


class SessionActionsMixin:
    """Detail actions of `SessionAdmin` (listed in its `actions_detail`)."""

    admin_site: AdminSite  # set by ModelAdmin

    def _change_url(self, object_id: Any) -> str:
        return reverse("admin:sessions_app_session_change", args=(object_id,))

    def has_operate_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return _permits(request, object_id, SessionAction.OPERATE)

    def has_manage_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return _permits(request, object_id, SessionAction.MANAGE)

    def has_watch_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return _permits(request, object_id, SessionAction.VIEW)

    @action(description="Open terminal", icon="terminal", permissions=["operate"])
    def open_terminal(self, request: HttpRequest, object_id: str) -> HttpResponse:
        session = session_for_action(request, object_id, SessionAction.OPERATE)
        if session.status not in SessionStatus.running():
            return action_refused(
                request, self._change_url(object_id), "The session is not running."
            )
        return action_done(request, reverse("console-terminal", args=(session.pk,)))

    @action(
        description="Open app",
        icon="open_in_new",
        permissions=["operate"],
        dialog=ActionDialog(
            title="Open an app",
            description="Opens the app through the proxy, signed in as you.",
            form_class=OpenAppForm,
            form_submit_text="Open",
        ),
    )
    def open_app(self, request: HttpRequest, form: OpenAppForm, object_id: str) -> HttpResponse:
        url = reverse("console-app-open", args=(object_id, form.cleaned_data["app"]))
        return action_done(request, url)

    @action(description="Logs", icon="receipt_long", permissions=["watch"])
    def tail_logs(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The main kernel's log; the page asks `?format=text` again every few seconds."""
        session = session_for_action(request, object_id, SessionAction.VIEW)
        try:
            text = session_logs(session=session, kernel_id=request.GET.get("kernel") or None)
        except BackendError as exc:
            text = f"(no log: {exc})"
        if request.GET.get("format") == "text":
            return HttpResponse(text, content_type="text/plain; charset=utf-8")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Logs of {session.name}",
            "session": session,
            "logs": text,
            "change_url": self._change_url(object_id),
            "poll_url": f"{request.path}?format=text",
            "live": session.status not in SessionStatus.terminal(),
        }
        return TemplateResponse(request, "admin/sessions_app/session/logs.html", context)

    @action(
        description="Restart",
        icon="restart_alt",
        permissions=["manage"],
        dialog=confirm_dialog(
            "Restart this session?",
            "Its kernels restart in place; running code and shells are lost.",
            "Restart",
        ),
    )
    def restart_session(
        self, request: HttpRequest, form: BaseDialogForm, object_id: str
    ) -> HttpResponse:
        session = session_for_action(request, object_id, SessionAction.MANAGE)
        try:
            session_restart(session=session)
        except BackendError as exc:
            return action_refused(request, self._change_url(object_id), str(exc))
        messages.success(request, f"Restart of {session.name} requested.")
        return action_done(request, self._change_url(object_id))

    @action(
        description="Destroy",
        icon="delete_forever",
        variant=ActionVariant.DANGER,
        permissions=["manage"],
        dialog=ActionDialog(
            title="Destroy this session?",
            description="Its kernels are stopped and its containers removed.",
            form_class=DestroyForm,
            form_submit_text="Destroy",
        ),
    )
    def destroy_session(
        self, request: HttpRequest, form: DestroyForm, object_id: str
    ) -> HttpResponse:
        session = session_for_action(request, object_id, SessionAction.MANAGE)
        forced = bool(form.cleaned_data.get("forced"))
        reason = "admin-forced" if forced else "admin-requested"
        try:
            session_destroy(session=session, forced=forced, reason=reason)
        except BackendError as exc:
            return action_refused(request, self._change_url(object_id), str(exc))
        messages.success(request, f"Termination of {session.name} requested.")
        return action_done(request, self._change_url(object_id))

    @action(
        description="Change priority",
        icon="low_priority",
        permissions=["manage"],
        dialog=ActionDialog(
            title="Change priority",
            description=f"From {PRIORITY_MIN} to {PRIORITY_MAX}; higher is scheduled first.",
            form_class=PriorityForm,
            form_submit_text="Save",
        ),
    )
    def change_priority(
        self, request: HttpRequest, form: PriorityForm, object_id: str
    ) -> HttpResponse:
        session = session_for_action(request, object_id, SessionAction.MANAGE)
        try:
            session_priority_set(session=session, priority=form.cleaned_data["priority"])
        except BackendError as exc:
            return action_refused(request, self._change_url(object_id), str(exc))
        messages.success(request, f"Priority of {session.name} set to {session.priority}.")
        return action_done(request, self._change_url(object_id))
