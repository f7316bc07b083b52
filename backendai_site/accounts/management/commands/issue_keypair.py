"""`manage.py issue_keypair EMAIL`: issue a keypair and print its secret once."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backendai_site.accounts.models import User
from backendai_site.accounts.services import keypair_issue


class Command(BaseCommand):
    help = "Issue a new keypair for the user with this e-mail and print its secret key once."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--admin", action="store_true", help="mark the keypair as admin")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"no user with e-mail {options['email']}")
        issued = keypair_issue(user=user, is_admin=options["admin"] or None)
        self.stdout.write(f"BACKEND_ACCESS_KEY={issued.keypair.access_key}")
        self.stdout.write(f"BACKEND_SECRET_KEY={issued.secret_key}")
