"""`python manage.py rescan_images`: refresh the image catalog from agents and registries."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents_app.models import ContainerRegistry
from agents_app.services.images import images_rescan_from_agents
from agents_app.services.registry import registries_rescan


class Command(BaseCommand):
    help = "Update the image catalog from agents' local images and from container registries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--registry", action="append", default=[], help="Only this registry (repeatable)."
        )
        parser.add_argument("--no-agents", action="store_true", help="Skip agents' images.")
        parser.add_argument("--no-registries", action="store_true", help="Skip registries.")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = False
        if not options["no_agents"] and not options["registry"]:
            result = images_rescan_from_agents()
            self.stdout.write(f"agents: {result.created} added, {result.updated} updated")
            for error in result.errors:
                self.stderr.write(f"agents: {error}")
        if not options["no_registries"]:
            registries = None
            if options["registry"]:
                registries = list(ContainerRegistry.objects.filter(name__in=options["registry"]))
                missing = set(options["registry"]) - {r.name for r in registries}
                if missing:
                    raise CommandError(f"unknown registry: {', '.join(sorted(missing))}")
            for name, scan in registries_rescan(registries=registries).items():
                self.stdout.write(f"{name}: {scan.created} added, {scan.updated} updated")
                for error in scan.errors:
                    failed = True
                    self.stderr.write(f"{name}: {error}")
        if failed:
            raise CommandError("some registries could not be scanned")
