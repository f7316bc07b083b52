"""`manage.py run_apps_proxy`: serve the app proxy's port mode (`BAI_APPS_PORT_RANGE`)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backendai_site.config import get_config
from proxy_app.apps_proxy.listeners import apps_port_server, port_sockets


class Command(BaseCommand):
    help = "Listen on every port of BAI_APPS_PORT_RANGE and proxy each to its app (port mode)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--check", action="store_true", help="exit 0 when port mode is configured, 1 if not"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port_range = get_config().apps.port_range
        if options["check"]:
            raise SystemExit(0 if port_range is not None else 1)
        if port_range is None:
            raise CommandError("port mode is off: set BAI_APPS_PORT_RANGE, e.g. [40000, 40099]")
        from backendai_site.asgi import application

        low, high = port_range
        sockets = port_sockets(options["host"], range(low, high + 1))
        if not sockets:
            raise CommandError(f"no port of {low}-{high} could be bound")
        self.stdout.write(f"app proxy listening on {len(sockets)} ports of {low}-{high}")
        apps_port_server(application).run(sockets=sockets)
