"""`python manage.py run_agent`: one agent daemon per node (never opens the database)."""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError

from agents_app.agent.config import CONFIG_FILE_ENV, AgentConfig
from backendai_site.config import get_config


class Command(BaseCommand):
    help = "Run an agent: register, heartbeat and run kernels for the manager (BAI_AGENT_*)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--config", help=f"TOML file (same as {CONFIG_FILE_ENV}).")
        parser.add_argument(
            "--print-config", action="store_true", help="Print the effective config and exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("config"):
            os.environ[CONFIG_FILE_ENV] = options["config"]
        try:
            config = AgentConfig()
        except ValidationError as exc:
            lines = [
                f"config error: BAI_AGENT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                for e in exc.errors()
            ]
            raise CommandError("\n".join(lines)) from None
        if options.get("print_config"):
            self.stdout.write(json.dumps(config.summary(), indent=2))
            return
        from agents_app.agent.runner import run_agent

        code = run_agent(config, broker_url=get_config().redis_url)
        if code:
            raise SystemExit(code)
