"""`backend.ai admin quota-scope get/set/unset` of the official client (26.9.6) against the live
server: a domain admin limits a user's and a project's scope; a plain user reads but cannot set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain
from storage_app.models import QuotaScopeLimit, StorageVolume
from tests.factories.accounts import ProjectFactory
from tests.helpers.cli import cli_ok, cli_refused
from tests.helpers.credentials import Credentials, make_credentials

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

HOST = "local:volume1"


@pytest.fixture
def user(volume: StorageVolume, domain: Domain) -> Credentials:
    return make_credentials(email="qs-user@example.com", username="qsuser", domain=domain)


@pytest.fixture
def domain_admin(volume: StorageVolume, domain: Domain) -> Credentials:
    return make_credentials(
        email="qs-admin@example.com", username="qsadmin", domain=domain, role=UserRole.ADMIN
    )


def test_a_domain_admin_limits_a_users_and_a_projects_scope(
    run_cli: Callable[..., Any], user: Credentials, domain_admin: Credentials, domain: Domain
) -> None:
    project = ProjectFactory.create(name="qs-project", domain=domain)
    email, where = user.user.email, ["-d", domain.name]

    cli_ok(run_cli(domain_admin, "admin", "quota-scope", "set", HOST, email, "1m", *where))
    shown = cli_ok(run_cli(domain_admin, "admin", "quota-scope", "get", HOST, email, *where))
    cli_ok(run_cli(domain_admin, "admin", "quota-scope", "set", HOST, "qs-project", "2g",
               "-t", "project", *where))  # fmt: skip

    assert "Hard Limit Bytes  1.0M" in shown
    limits = dict(QuotaScopeLimit.objects.values_list("quota_scope_id", "hard_limit_bytes"))
    assert limits == {f"user:{user.user.pk}": 1024**2, f"project:{project.pk}": 2 * 1024**3}

    cli_ok(run_cli(domain_admin, "admin", "quota-scope", "unset", HOST, email, *where))

    assert list(QuotaScopeLimit.objects.values_list("quota_scope_id", flat=True)) == [
        f"project:{project.pk}"
    ]


def test_a_plain_user_reads_their_scope_but_cannot_set_it(
    run_cli: Callable[..., Any], user: Credentials, domain: Domain
) -> None:
    own = str(user.user.pk)

    shown = cli_ok(run_cli(user, "admin", "quota-scope", "get", HOST, own, "-d", domain.name))
    denied = cli_refused(run_cli(user, "admin", "quota-scope", "set", HOST, own, "1m"))

    assert "Usage Count       0" in shown
    assert "Only superadmins and domain admins" in denied
    assert not QuotaScopeLimit.objects.exists()
