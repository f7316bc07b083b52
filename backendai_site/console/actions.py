"""Pieces shared by the apps' object-page actions (unfold's `actions_detail`).

An action that changes something is a dialog: the button's GET only renders a confirmation form,
the change happens on its POST (CSRF-checked, and recorded by the audit middleware like every
admin POST). An action that only leads somewhere (a terminal, a filtered list) is a plain link.
Who may press a button is asked by the app's own rule through the action's `permissions`; the
same check runs again when the POST arrives, so a forged POST is refused with a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from unfold.dataclasses import ActionDialog
from unfold.forms import BaseDialogForm


class ConfirmForm(BaseDialogForm):
    """A dialog with nothing to fill in: submitting it confirms the action."""


def confirm_dialog(title: str, description: str, submit: str) -> ActionDialog:
    return ActionDialog(
        title=title, description=description, form_class=ConfirmForm, form_submit_text=submit
    )


def action_done(request: HttpRequest, url: str) -> HttpResponse:
    """Where a finished action sends the browser: the dialog posts through htmx, which follows
    an `HX-Redirect` header and not a 302 (it would swap the next page into the dialog)."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def action_refused(request: HttpRequest, url: str, message: str) -> HttpResponse:
    messages.error(request, message)
    return action_done(request, url)


def scoped_object[M: Model](queryset: QuerySet[M], object_id: Any, what: str) -> M:
    """The object of an action's page when the caller's scoped queryset holds it; a 404 (no
    hint that it exists) when it does not or the id is malformed."""
    try:
        found = queryset.filter(pk=object_id).first()
    except ValidationError:
        found = None
    if found is None:
        raise Http404(f"No such {what}.")
    return found
