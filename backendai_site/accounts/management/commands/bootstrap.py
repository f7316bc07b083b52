"""`manage.py bootstrap`: defaults, a superadmin and credentials for the official CLI."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from backendai_site.accounts.services import site_bootstrap
from backendai_site.config import get_config


class Command(BaseCommand):
    help = "Create the default domain, project, policies and a superadmin (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--admin-email", default="admin@lablup.com")
        parser.add_argument("--endpoint", default=None, help="URL written as BACKEND_ENDPOINT")

    def handle(self, *args: Any, **options: Any) -> None:
        config = get_config()
        result = site_bootstrap(admin_email=options["admin_email"])
        endpoint = options["endpoint"] or config.public_endpoint
        config.data_dir.mkdir(parents=True, exist_ok=True)
        path = config.data_dir / "credentials.env"
        lines = [
            f"BACKEND_ENDPOINT={endpoint}",
            "BACKEND_ENDPOINT_TYPE=api",
            f"BACKEND_ACCESS_KEY={result.access_key}",
            f"BACKEND_SECRET_KEY={result.secret_key}",
            f"BAI_ADMIN_EMAIL={result.email}",
        ]
        if result.password is not None:
            lines.append(f"BAI_ADMIN_PASSWORD={result.password}")
        elif path.exists():
            old = [
                ln for ln in path.read_text().splitlines() if ln.startswith("BAI_ADMIN_PASSWORD=")
            ]
            lines.extend(old)
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        self.stdout.write(f"credentials written to {path}")
        if result.password is not None:
            self.stdout.write(f"superadmin {result.email} password: {result.password}")
