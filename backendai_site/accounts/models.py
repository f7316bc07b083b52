"""Tenancy: domains, projects, users, keypairs and the resource policies that bound them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from backendai_site.common.vfolder_host_permissions import validate_host_permissions

from .enums import STAFF_ROLES, DefaultForUnspecified, UserRole, UserStatus
from .permissions import role_has_module_perms, role_has_perm


class Domain(models.Model):
    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    total_resource_slots = models.JSONField(default=dict, blank=True)
    allowed_vfolder_hosts = models.JSONField(
        default=dict, blank=True, validators=[validate_host_permissions]
    )
    allowed_docker_registries = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class KeypairResourcePolicy(models.Model):
    name = models.CharField(max_length=64, unique=True)
    default_for_unspecified = models.CharField(
        max_length=16, choices=DefaultForUnspecified.choices, default=DefaultForUnspecified.LIMITED
    )
    total_resource_slots = models.JSONField(default=dict, blank=True)
    max_session_lifetime = models.PositiveIntegerField(
        default=0, help_text="Seconds; 0 means no limit."
    )
    max_concurrent_sessions = models.PositiveIntegerField(default=30)
    max_pending_session_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means no limit."
    )
    max_pending_session_resource_slots = models.JSONField(null=True, blank=True)
    max_concurrent_sftp_sessions = models.PositiveIntegerField(default=1)
    max_containers_per_session = models.PositiveIntegerField(default=1)
    idle_timeout = models.PositiveIntegerField(default=0, help_text="Seconds; 0 disables.")
    allowed_vfolder_hosts = models.JSONField(
        default=dict, blank=True, validators=[validate_host_permissions]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "keypair resource policies"

    def __str__(self) -> str:
        return self.name


class UserResourcePolicy(models.Model):
    name = models.CharField(max_length=64, unique=True)
    total_resource_slots = models.JSONField(
        default=dict, blank=True, help_text="Slots all of a user's sessions may hold; {} = none."
    )
    max_vfolder_count = models.PositiveIntegerField(default=0, help_text="0 means no limit.")
    max_quota_scope_size = models.BigIntegerField(default=-1, help_text="Bytes; -1 = no limit.")
    max_session_count_per_model_session = models.PositiveIntegerField(default=10)
    max_customized_image_count = models.PositiveIntegerField(default=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "user resource policies"

    def __str__(self) -> str:
        return self.name


class ProjectResourcePolicy(models.Model):
    name = models.CharField(max_length=64, unique=True)
    max_vfolder_count = models.PositiveIntegerField(default=0, help_text="0 means no limit.")
    max_quota_scope_size = models.BigIntegerField(default=-1, help_text="Bytes; -1 = no limit.")
    max_network_count = models.PositiveIntegerField(default=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "project resource policies"

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    superuser_factory: ClassVar[Callable[..., User] | None] = None
    """`services.superadmin_create`, set by `AccountsConfig.ready()`: a superadmin comes with the
    default tenancy, which the services create (and the services import this module)."""

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("users need an e-mail address")
        fields.setdefault("username", email)
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        factory = type(self).superuser_factory
        if factory is None:
            raise ImproperlyConfigured("the accounts app is not ready")
        return factory(email=email, password=password, **fields)


class User(AbstractBaseUser):
    """A person. Logs in with e-mail; the role decides what the admin console allows."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    username = models.CharField(max_length=64, unique=True)
    full_name = models.CharField(max_length=64, blank=True, default="")
    description = models.TextField(blank=True, default="")
    role = models.CharField(max_length=16, choices=UserRole.choices, default=UserRole.USER)
    status = models.CharField(max_length=32, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    status_info = models.CharField(max_length=64, blank=True, default="")
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="users")
    resource_policy = models.ForeignKey(
        UserResourcePolicy, on_delete=models.PROTECT, related_name="users"
    )
    need_password_change = models.BooleanField(default=False)
    monitors_all_domains = models.BooleanField(
        default=False,
        help_text=(
            "Monitors only: watch every domain instead of their own. Only a superadmin may set it."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()

    class Meta:
        ordering = ("email",)

    def __str__(self) -> str:
        return self.email

    # Django admin and auth read these three as attributes; they follow from role and status.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == UserStatus.ACTIVE

    @property
    def is_staff(self) -> bool:
        return self.status == UserStatus.ACTIVE and self.role in STAFF_ROLES

    @property
    def is_superuser(self) -> bool:
        return self.role == UserRole.SUPERADMIN

    def has_perm(self, perm: str, obj: object | None = None) -> bool:
        return self.is_active and role_has_perm(self.role, perm)

    def has_perms(self, perm_list: Any, obj: object | None = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and role_has_module_perms(self.role, app_label)


class ProjectMembership(models.Model):
    project = models.ForeignKey("Project", on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("project", "user"), name="uniq_project_member")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.project_id}"


class Project(models.Model):
    """Backend.AI's "group": a team inside a domain that owns sessions and folders."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="projects")
    total_resource_slots = models.JSONField(default=dict, blank=True)
    allowed_vfolder_hosts = models.JSONField(
        default=dict, blank=True, validators=[validate_host_permissions]
    )
    resource_policy = models.ForeignKey(
        ProjectResourcePolicy, on_delete=models.PROTECT, related_name="projects"
    )
    members = models.ManyToManyField(
        User, through=ProjectMembership, related_name="projects", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("domain__name", "name")
        constraints = [
            models.UniqueConstraint(fields=("domain", "name"), name="uniq_project_name_in_domain")
        ]

    def __str__(self) -> str:
        return f"{self.domain.name}/{self.name}" if self.domain_id else self.name


class KeyPair(models.Model):
    """An API credential. The secret is stored encrypted and shown once, when issued."""

    access_key = models.CharField(max_length=20, primary_key=True)
    secret_key_encrypted = models.TextField(editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="keypairs")
    is_active = models.BooleanField(default=True)
    is_admin = models.BooleanField(default=False)
    resource_policy = models.ForeignKey(
        KeypairResourcePolicy, on_delete=models.PROTECT, related_name="keypairs"
    )
    rate_limit = models.PositiveIntegerField(
        default=30000, help_text="Requests allowed in the rate-limit window (15 minutes)."
    )
    num_queries = models.BigIntegerField(default=0)
    last_used = models.DateTimeField(null=True, blank=True)
    # The SSH keypair of this credential's sessions (`ssh_services.py`): made when first needed,
    # replaceable by the owner; the private key is stored encrypted like the secret.
    ssh_public_key = models.TextField(blank=True, default="", editable=False)
    ssh_private_key_encrypted = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "keypair"

    def __str__(self) -> str:
        return self.access_key
