from __future__ import annotations

from django.apps import AppConfig


class TemplatesConfig(AppConfig):
    name = "templates_app"
    verbose_name = "Session templates and dotfiles"
