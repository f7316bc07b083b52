"""`backend.ai admin permission list` of the official client (26.9.6): the folder host
permissions an `allowed_vfolder_hosts` map may grant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backendai_site.accounts.models import Domain
from storage_app.models import StorageVolume
from tests.helpers.credentials import make_credentials

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]


def test_the_permission_list_names_every_host_permission(
    run_cli: Callable[..., Any], volume: StorageVolume, domain: Domain
) -> None:
    user = make_credentials(email="perm@example.com", username="perm", domain=domain)

    result = run_cli(user, "admin", "permission", "list")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in ("create-vfolder", "mount-in-session", "set-user-specific-permission"):
        assert name in output
