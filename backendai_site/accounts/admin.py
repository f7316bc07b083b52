"""The admin console for tenancy: domains, projects, users, keypairs and policies.

Domain admins see and change only their own domain's objects, pick only its users and projects
(lists, forms, inlines, autocompletes, raw-id lookups, actions) and grant only roles at or below
their own inside it; monitors only read (their role's permissions, see permissions.py, make
every page read-only for them), and only their own domain unless a superadmin made them global.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField, ModelForm
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from .admin_actions import UserActionsMixin
from .enums import UserRole, UserStatus
from .models import (
    Domain,
    KeyPair,
    KeypairResourcePolicy,
    Project,
    ProjectMembership,
    ProjectResourcePolicy,
    User,
    UserResourcePolicy,
)
from .permissions import grantable_roles, role_may_grant
from .selectors import user_watched_domain_id
from .services import keypair_issue, keypair_revoke, user_set_status


def _console_user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None


def _is_domain_admin(request: HttpRequest) -> bool:
    user = _console_user(request)
    return user is not None and user.role == UserRole.ADMIN


def _is_superadmin(request: HttpRequest) -> bool:
    user = _console_user(request)
    return user is not None and user.role == UserRole.SUPERADMIN


def _confined_domain_id(request: HttpRequest) -> int | None:
    """The one domain the console user reaches (domain admins, monitors), or None for all."""
    user = _console_user(request)
    if user is None or user.role == UserRole.SUPERADMIN:
        return None
    return user_watched_domain_id(user=user)


def _domain_limited_choices(
    db_field: ForeignKey[Any, Any], request: HttpRequest, kwargs: dict[str, Any]
) -> None:
    """Foreign-key choices (selects, autocompletes and raw-id inputs alike: the form field's
    queryset is what a submitted id is validated against) confined to the user's domain."""
    domain_id = _confined_domain_id(request)
    if domain_id is None:
        return
    match db_field.name:
        case "domain":
            kwargs["queryset"] = Domain.objects.filter(pk=domain_id)
        case "user":
            kwargs["queryset"] = _users_reachable(request).filter(domain_id=domain_id)
        case "project":
            kwargs["queryset"] = Project.objects.filter(domain_id=domain_id)


def _users_reachable(request: HttpRequest) -> QuerySet[User]:
    """Users the console user may see and pick: a domain admin never reaches a superadmin or a
    global monitor, even one filed under its domain."""
    qs = User.objects.all()
    if _is_domain_admin(request):
        qs = qs.exclude(role=UserRole.SUPERADMIN).exclude(monitors_all_domains=True)
    return qs


class DomainScopedAdmin(ModelAdmin):
    """Limits domain admins and domain monitors to rows of their own domain, in lists, forms,
    choices, autocompletes and actions (actions run on `get_queryset`)."""

    domain_lookup = "domain"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        domain_id = _confined_domain_id(request)
        if domain_id is not None:
            return qs.filter(**{self.domain_lookup: domain_id})
        return qs

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        _domain_limited_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class DomainScopedInline(TabularInline):
    """An inline whose foreign-key choices are confined like DomainScopedAdmin's."""

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        _domain_limited_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Domain)
class DomainAdmin(DomainScopedAdmin):
    domain_lookup = "pk"
    list_display = ("name", "is_active", "description", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "description")
    # A domain admin may describe its domain but not raise its own limits or switch it on/off.
    limits = (
        "name",
        "is_active",
        "total_resource_slots",
        "allowed_vfolder_hosts",
        "allowed_docker_registries",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if _is_superadmin(request) else readonly + self.limits


class ProjectMembershipInline(DomainScopedInline):
    model = ProjectMembership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(DomainScopedAdmin):
    list_display = ("name", "domain", "is_active", "resource_policy", "created_at")
    list_filter = ("is_active", "domain", "resource_policy")
    search_fields = ("name", "description", "domain__name")
    list_select_related = ("domain", "resource_policy")
    inlines = (ProjectMembershipInline,)


class KeyPairInline(DomainScopedInline):
    model = KeyPair
    extra = 0
    fields = ("access_key", "is_active", "is_admin", "resource_policy", "last_used")
    readonly_fields = ("access_key", "last_used")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (
            False  # keypairs are issued with the "Issue a keypair" action, which shows the secret
        )


@admin.register(User)
class UserAdmin(UserActionsMixin, DomainScopedAdmin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("email",)
    list_display = ("email", "username", "full_name", "role", "status", "domain", "created_at")
    list_filter = ("role", "status", "domain")
    search_fields = ("email", "username", "full_name")
    list_select_related = ("domain",)
    readonly_fields = ("created_at", "modified_at", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        ("Profile", {"fields": ("full_name", "description")}),
        (
            "Access",
            {
                "fields": (
                    "role",
                    "monitors_all_domains",
                    "status",
                    "status_info",
                    "domain",
                    "resource_policy",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "created_at", "modified_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "username",
                    "role",
                    "domain",
                    "resource_policy",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    filter_horizontal = ()
    inlines = (KeyPairInline,)
    actions = ("activate_users", "deactivate_users", "issue_keypairs")
    actions_detail = (  # admin_actions.py
        "issue_keypair",
        "revoke_keypair",
        "change_password",
        "temporary_password",
        "user_sessions",
        "user_folders",
        "user_usage",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).filter(pk__in=_users_reachable(request).values("pk"))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if _is_superadmin(request):
            return fieldsets
        # Only a superadmin may let a monitor watch every domain.
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != "monitors_all_domains"]})
            for name, opts in fieldsets
        ]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        form = super().get_form(request, obj, change=change, **kwargs)
        granter = _console_user(request)
        if granter is not None and "role" in form.base_fields:
            allowed = set(grantable_roles(granter.role))
            form.base_fields["role"].choices = [  # type: ignore[attr-defined]
                choice for choice in UserRole.choices if choice[0] in allowed
            ]
        return form

    def save_model(
        self, request: HttpRequest, obj: User, form: ModelForm[User], change: bool
    ) -> None:
        """The form already offers only what may be granted; refuse anything else that slips
        through (a crafted POST, a form built elsewhere) before it is written."""
        granter = _console_user(request)
        if granter is None or not role_may_grant(granter.role, obj.role):
            raise PermissionDenied("You may not grant that role.")
        if granter.role != UserRole.SUPERADMIN:
            if obj.monitors_all_domains:
                raise PermissionDenied("Only a superadmin may make a monitor watch every domain.")
            if obj.domain_id != granter.domain_id:
                raise PermissionDenied("Domain admins manage users of their own domain only.")
        super().save_model(request, obj, form, change)

    @admin.action(description="Activate selected users", permissions=["change"])
    def activate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_set_status(user=user, status=UserStatus.ACTIVE)
        self.message_user(request, f"Activated {queryset.count()} user(s).", messages.SUCCESS)

    @admin.action(description="Deactivate selected users", permissions=["change"])
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            if user.pk == request.user.pk:
                continue  # never lock yourself out
            user_set_status(user=user, status=UserStatus.INACTIVE)
        self.message_user(request, "Deactivated the selected user(s).", messages.SUCCESS)

    @admin.action(description="Issue a keypair (the secret is shown once)", permissions=["change"])
    def issue_keypairs(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            issued = keypair_issue(user=user)
            self.message_user(
                request,
                f"{user.email}: access key {issued.keypair.access_key}, secret key "
                f"{issued.secret_key} (copy it now: it will not be shown again)",
                messages.WARNING,
            )


@admin.register(KeyPair)
class KeyPairAdmin(DomainScopedAdmin):
    domain_lookup = "user__domain"
    list_display = (
        "access_key",
        "user",
        "is_active",
        "is_admin",
        "resource_policy",
        "rate_limit",
        "num_queries",
        "last_used",
        "created_at",
    )
    list_filter = ("is_active", "is_admin", "resource_policy")
    search_fields = ("access_key", "user__email")
    list_select_related = ("user", "resource_policy")
    readonly_fields = ("access_key", "user", "num_queries", "last_used", "created_at")
    fields = (
        "access_key",
        "user",
        "is_active",
        "is_admin",
        "resource_policy",
        "rate_limit",
        "num_queries",
        "last_used",
        "created_at",
    )
    actions = ("revoke_keypairs",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[KeyPair]:
        return super().get_queryset(request).filter(user__in=_users_reachable(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issue keypairs from the user list so the secret can be shown once

    @admin.action(description="Revoke selected keypairs", permissions=["change"])
    def revoke_keypairs(self, request: HttpRequest, queryset: QuerySet[KeyPair]) -> None:
        for keypair in queryset:
            keypair_revoke(keypair=keypair)
        self.message_user(request, "Revoked the selected keypair(s).", messages.SUCCESS)


@admin.register(KeypairResourcePolicy)
class KeypairResourcePolicyAdmin(ModelAdmin):
    list_display = (
        "name",
        "default_for_unspecified",
        "total_resource_slots",
        "max_concurrent_sessions",
        "max_pending_session_count",
        "max_containers_per_session",
        "max_session_lifetime",
        "idle_timeout",
    )
    search_fields = ("name",)


@admin.register(UserResourcePolicy)
class UserResourcePolicyAdmin(ModelAdmin):
    list_display = ("name", "max_vfolder_count", "max_quota_scope_size")
    search_fields = ("name",)


@admin.register(ProjectResourcePolicy)
class ProjectResourcePolicyAdmin(ModelAdmin):
    list_display = ("name", "max_vfolder_count", "max_quota_scope_size", "max_network_count")
    search_fields = ("name",)
