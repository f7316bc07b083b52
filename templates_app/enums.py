"""Scopes of templates and dotfiles, and the actions asked of them."""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class DotfileScope(models.TextChoices):
    USER = "user", "user"
    PROJECT = "project", "project"
    DOMAIN = "domain", "domain"


class TemplateType(models.TextChoices):
    TASK = "task", "task"


class ScopeAction(StrEnum):
    """VIEW: read (and start a session from) it; MANAGE: change or delete it."""

    VIEW = "view"
    MANAGE = "manage"
