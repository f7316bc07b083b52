"""The console's theme: sidebar grouped by operator task, scoped to what the user may open, and
every script, stylesheet and font served by us (no CDN)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from tests.helpers.credentials import make_credentials

pytestmark = pytest.mark.django_db


def console_for(role: UserRole, email: str) -> Client:
    client = Client()
    client.force_login(make_credentials(role=role, email=email, username=email[:6]).user)
    return client


def test_sidebar_groups_by_operator_task() -> None:
    page = console_for(UserRole.SUPERADMIN, "root@example.com").get("/admin/").content.decode()
    found = [re.search(rf">\s*{group}\s*<", page) for group in ("Compute", "Storage", "Tenancy")]
    assert all(found), found
    positions = [match.start() for match in found if match]
    assert positions == sorted(positions)
    for group in ("Scheduling", "Operations"):
        assert group in page
    assert "/admin/sessions_app/session/" in page
    assert "/admin/django_celery_beat/periodictask/" in page


def test_monitor_sidebar_omits_pages_it_may_not_open() -> None:
    page = console_for(UserRole.MONITOR, "mon@example.com").get("/admin/").content.decode()
    assert "/admin/sessions_app/session/" in page
    assert "/admin/django_celery_beat/periodictask/" not in page
    assert "/admin/auth/group/" not in page


def test_assets_are_served_locally() -> None:
    page = console_for(UserRole.SUPERADMIN, "root2@example.com").get("/admin/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|woff2))"', page)
    assert sources, "the theme's assets are linked from the page"
    assert all(source.startswith("/static/") for source in sources), sources


def test_library_pages_render_on_the_theme() -> None:
    client = console_for(UserRole.SUPERADMIN, "root3@example.com")
    for path in ("/admin/django_celery_beat/periodictask/", "/admin/axes/accessattempt/",
                 "/admin/auth/group/"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, path
        assert b'x-data="theme()"' in response.content, path
