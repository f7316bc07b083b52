"""`manage.py storage_bootstrap`: make sure the default volume exists (quick start)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from storage_app.services.volumes import default_volume_ensure


class Command(BaseCommand):
    help = "Create the default storage volume (BAI_STORAGE_DEFAULT_HOST) and its directory."

    def handle(self, *args: Any, **options: Any) -> None:
        volume = default_volume_ensure()
        self.stdout.write(f"{volume.name} at {volume.mount_path}")
