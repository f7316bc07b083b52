"""Templates and dotfiles in the admin console: superadmins see all; the rest is read through
the API (domain admins are not given these models, see accounts/permissions.py)."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin

from .models import Dotfile, SessionTemplate


@admin.register(SessionTemplate)
class TaskTemplateAdmin(ModelAdmin):
    list_display = ("name", "id", "user", "project", "domain", "is_active", "created_at")
    list_filter = ("is_active", "domain")
    search_fields = ("name", "user__email")
    list_select_related = ("user", "project", "domain")
    readonly_fields = ("id", "created_at", "modified_at")


@admin.register(Dotfile)
class DotfileAdmin(ModelAdmin):
    list_display = ("path", "scope", "user", "project", "domain", "permission_octal")
    list_filter = ("scope",)
    search_fields = ("path", "user__email", "project__name", "domain__name")
    list_select_related = ("user", "project", "domain")
    readonly_fields = ("created_at", "modified_at")
