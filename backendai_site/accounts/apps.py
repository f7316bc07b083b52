from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backendai_site.accounts"
    label = "accounts"
    verbose_name = "Accounts and tenancy"

    def ready(self) -> None:
        from . import schema  # noqa: F401  (registers the OpenAPI security scheme)
        from .models import UserManager
        from .services import superadmin_create

        UserManager.superuser_factory = superadmin_create
