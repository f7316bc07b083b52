"""`backend.ai admin image rescan` against the whole platform: the manager worker runs the
rescan as a background task, the client follows its progress to the end, and the catalog holds
the agent's images again; a domain admin is refused."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from agents_app.models import Image
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.services import default_tenancy_ensure
from tests.factories.world import make_member
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_a_superadmin_rescans_and_a_domain_admin_is_refused(
    platform_stack: Stack, cli: Cli
) -> None:
    stack = platform_stack
    defaults = default_tenancy_ensure()
    root = make_member(defaults.project, "rescan-root@example.com", UserRole.SUPERADMIN)
    admin = make_member(defaults.project, "rescan-admin@example.com", UserRole.ADMIN)
    known = set(Image.objects.values_list("name", "tag"))
    assert known, "the agent's kernel image should be in the catalog"
    Image.objects.all().delete()  # no session was started from them yet

    rescanned = cli(stack, root, "admin", "image", "rescan")
    refused = cli(stack, admin, "admin", "image", "rescan")

    output = rescanned.stdout + rescanned.stderr
    assert rescanned.returncode == 0, f"{output}\n{stack.logs()}"
    assert "Finished registry scanning." in output, output
    assert set(Image.objects.values_list("name", "tag")) == known
    assert refused.returncode != 0
    assert "may not rescan images" in refused.stdout + refused.stderr
