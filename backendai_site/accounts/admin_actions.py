"""The buttons on a user's admin page: issue or revoke a keypair, reset the password, and links
to the user's sessions, folders and usage.

Who may press them is the admin's own rule: the role's change permission (permissions.py) on a
user the console user reaches (`UserAdmin.get_queryset`: DomainScopedAdmin's domain, never a
superadmin or global monitor for a domain admin). The links show only to a role that may open
the page they lead to, which scopes its rows itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from unfold.decorators import action
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm

from backendai_site.console.actions import action_done, confirm_dialog, scoped_object

from .models import KeyPair, User
from .services import keypair_issue, keypair_revoke, user_password_set_temporary


def _change_url(object_id: Any) -> str:
    return reverse("admin:accounts_user_change", args=(object_id,))


def _changelist(url_name: str, **query: Any) -> HttpResponse:
    return HttpResponseRedirect(f"{reverse(url_name)}?{urlencode(query)}")


class RevokeKeypairForm(BaseDialogForm):
    keypair = forms.ModelChoiceField(queryset=KeyPair.objects.none(), label="Keypair")

    def __init__(self, request: HttpRequest, object_id: Any = None, *args: Any, **kw: Any):
        super().__init__(request, object_id, *args, **kw)
        field = cast("forms.ModelChoiceField[KeyPair]", self.fields["keypair"])
        # only the target user's live keypairs: a posted id outside them is invalid
        field.queryset = KeyPair.objects.filter(user_id=object_id, is_active=True)


class UserActionsMixin:
    """Detail actions of `UserAdmin` (listed in its `actions_detail`)."""

    if TYPE_CHECKING:  # provided by UserAdmin and ModelAdmin

        def get_queryset(self, request: HttpRequest) -> QuerySet[User]: ...

        def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool: ...

    def _reached(self, request: HttpRequest, object_id: Any) -> User:
        return scoped_object(self.get_queryset(request), object_id, "user")

    def _reaches(self, request: HttpRequest, object_id: Any) -> bool:
        if object_id is None:
            return False
        try:
            self._reached(request, object_id)
        except Http404:
            return False
        return True

    def has_act_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        """Change the user (its keypairs, its password): the role may, and reaches the user."""
        return self.has_change_permission(request) and self._reaches(request, object_id)

    # The links to other apps' lists ask the model permission here, in a method: an action's
    # dotted permission is looked up in the database by unfold's system check, which then fails
    # on a database that is not migrated yet (makemigrations --check, the first migrate).
    def has_see_sessions_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return request.user.has_perm("sessions_app.view_session") and self._reaches(
            request, object_id
        )

    def has_see_folders_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return request.user.has_perm("storage_app.view_vfolder") and self._reaches(
            request, object_id
        )

    def has_see_usage_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return request.user.has_perm("sessions_app.view_usageinterval") and self._reaches(
            request, object_id
        )

    @action(
        description="Issue a keypair",
        icon="key",
        permissions=["act"],
        dialog=confirm_dialog(
            "Issue a keypair?",
            "The secret key is shown once, on the next page: copy it then.",
            "Issue",
        ),
    )
    def issue_keypair(
        self, request: HttpRequest, form: BaseDialogForm, object_id: str
    ) -> HttpResponse:
        user = self._reached(request, object_id)
        issued = keypair_issue(user=user)
        messages.warning(
            request,
            f"Access key {issued.keypair.access_key}, secret key {issued.secret_key} "
            "(copy it now: it will not be shown again)",
        )
        return action_done(request, _change_url(object_id))

    @action(
        description="Revoke a keypair",
        icon="key_off",
        variant=ActionVariant.WARNING,
        permissions=["act"],
        dialog={
            "title": "Revoke a keypair",
            "description": "Requests signed with it are refused from now on.",
            "form_class": RevokeKeypairForm,
            "form_submit_text": "Revoke",
        },
    )
    def revoke_keypair(
        self, request: HttpRequest, form: RevokeKeypairForm, object_id: str
    ) -> HttpResponse:
        self._reached(request, object_id)
        keypair: KeyPair = form.cleaned_data["keypair"]
        keypair_revoke(keypair=keypair)
        messages.success(request, f"Revoked {keypair.access_key}.")
        return action_done(request, _change_url(object_id))

    @action(description="Change password", icon="password", permissions=["act"])
    def change_password(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The stock admin password form (it asks the same change permission and scope)."""
        self._reached(request, object_id)
        return action_done(request, reverse("admin:auth_user_password_change", args=(object_id,)))

    @action(
        description="Set a temporary password",
        icon="lock_reset",
        permissions=["act"],
        dialog=confirm_dialog(
            "Set a temporary password?",
            "A random password replaces the current one and must be changed at the next "
            "login. It is shown once, on the next page.",
            "Set",
        ),
    )
    def temporary_password(
        self, request: HttpRequest, form: BaseDialogForm, object_id: str
    ) -> HttpResponse:
        user = self._reached(request, object_id)
        password = user_password_set_temporary(user=user)
        messages.warning(
            request,
            f"Temporary password of {user.email}: {password} (shown once; it must be changed "
            "at the next login)",
        )
        return action_done(request, _change_url(object_id))

    @action(
        description="Sessions",
        icon="terminal",
        permissions=["see_sessions"],
    )
    def user_sessions(self, request: HttpRequest, object_id: str) -> HttpResponse:
        user = self._reached(request, object_id)
        return _changelist("admin:sessions_app_session_changelist", user__exact=user.pk)

    @action(
        description="Folders",
        icon="folder",
        permissions=["see_folders"],
    )
    def user_folders(self, request: HttpRequest, object_id: str) -> HttpResponse:
        user = self._reached(request, object_id)
        return _changelist("admin:storage_app_vfolder_changelist", user__exact=user.pk)

    @action(
        description="Usage",
        icon="bar_chart",
        permissions=["see_usage"],
    )
    def user_usage(self, request: HttpRequest, object_id: str) -> HttpResponse:
        user = self._reached(request, object_id)
        return _changelist("admin:sessions_app_usageinterval_changelist", user_email=user.email)
