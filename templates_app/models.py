"""Session templates (a stored session-create body) and dotfiles (files written into every new
session's home), each owned by a user and scoped to a project or a domain."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from backendai_site.accounts.models import Domain, Project, User

from .enums import DotfileScope, TemplateType


class SessionTemplate(models.Model):
    """A task template (`kind: taskTemplate`): its owner, the domain and (optionally) the
    project whose members may see and use it. Deleting marks it inactive, as the reference does."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=128)
    type = models.CharField(max_length=16, choices=TemplateType.choices, default=TemplateType.TASK)
    is_active = models.BooleanField(default=True)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="task_templates")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="task_templates"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="task_templates")
    template = models.JSONField(
        help_text="The checked template (api_version, kind, metadata, spec)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["domain", "is_active"])]

    def __str__(self) -> str:
        return self.name


class Dotfile(models.Model):
    """One file for `/home/work/<path>`. Exactly one of user, project, domain is set, matching
    `scope`; a path is unique within its scope."""

    scope = models.CharField(max_length=16, choices=DotfileScope.choices)
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="dotfiles"
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="dotfiles"
    )
    domain = models.ForeignKey(
        Domain, on_delete=models.CASCADE, null=True, blank=True, related_name="dotfiles"
    )
    path = models.CharField(max_length=255)
    data = models.TextField(blank=True, default="")
    permission = models.PositiveSmallIntegerField(help_text="Mode bits, e.g. 0o644 (420).")
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("scope", "path")
        constraints = [
            models.CheckConstraint(
                name="dotfile_one_owner_per_scope",
                condition=(
                    Q(
                        scope=DotfileScope.USER,
                        user__isnull=False,
                        project__isnull=True,
                        domain__isnull=True,
                    )
                    | Q(
                        scope=DotfileScope.PROJECT,
                        user__isnull=True,
                        project__isnull=False,
                        domain__isnull=True,
                    )
                    | Q(
                        scope=DotfileScope.DOMAIN,
                        user__isnull=True,
                        project__isnull=True,
                        domain__isnull=False,
                    )
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "path"], condition=Q(scope="user"), name="dotfile_user_path"
            ),
            models.UniqueConstraint(
                fields=["project", "path"],
                condition=Q(scope="project"),
                name="dotfile_project_path",
            ),
            models.UniqueConstraint(
                fields=["domain", "path"], condition=Q(scope="domain"), name="dotfile_domain_path"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.path}"

    @property
    def permission_octal(self) -> str:
        return format(self.permission, "03o")
