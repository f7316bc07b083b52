"""A folder's admin page: the live sessions mounting it, its usage against its quota, and a
recalculate button for whoever may change it, refused outside their domain and to monitors."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain
from backendai_site.audit.models import AuditLogEntry
from sessions_app.enums import SessionStatus
from storage_app.models import StorageVolume, VFolder
from storage_app.services.folders import VFolderCreate, vfolder_create
from storage_app.services.volumes import vfolder_root
from tests.factories.accounts import DomainFactory
from tests.factories.sessions import SessionFactory
from tests.helpers.credentials import make_credentials

pytestmark = pytest.mark.django_db

BASE = "/admin/storage_app/vfolder"
CONFIRM = {"_form_submitted": "on"}


@pytest.fixture
def folders(volume: StorageVolume, domain: Domain) -> dict[str, VFolder]:
    ours = make_credentials(email="in@example.com", username="in", domain=domain).user
    theirs = make_credentials(
        email="out@example.com", username="out", domain=DomainFactory.create(name="elsewhere")
    ).user
    return {
        "ours": vfolder_create(user=ours, request=VFolderCreate(name="our-folder")),
        "theirs": vfolder_create(user=theirs, request=VFolderCreate(name="their-folder")),
    }


def logged_in(role: UserRole, domain: Domain, email: str) -> Client:
    user = make_credentials(email=email, username=email[:6], domain=domain, role=role).user
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def domain_admin(domain: Domain) -> Client:
    return logged_in(UserRole.ADMIN, domain, "dadmin@example.com")


@pytest.fixture
def monitor(domain: Domain) -> Client:
    return logged_in(UserRole.MONITOR, domain, "watch@example.com")


class TestFolderPage:
    def test_it_links_the_live_sessions_mounting_it(
        self, domain_admin: Client, folders: dict[str, VFolder]
    ) -> None:
        folder = folders["ours"]
        mount = [{"vfid": folder.pk.hex, "name": folder.name, "path": "/home/work/our-folder"}]
        live = SessionFactory.create(status=SessionStatus.RUNNING, mounts=mount)
        ended = SessionFactory.create(status=SessionStatus.TERMINATED, mounts=mount)

        page = domain_admin.get(f"{BASE}/{folder.pk}/change/").content.decode()

        assert f"/admin/sessions_app/session/{live.pk}/change/" in page
        assert f"/admin/sessions_app/session/{ended.pk}/change/" not in page

    def test_it_shows_usage_against_the_quota(
        self, domain_admin: Client, folders: dict[str, VFolder]
    ) -> None:
        folder = folders["ours"]
        VFolder.objects.filter(pk=folder.pk).update(
            max_size=4 * 1024**3, cur_size=1024**3, num_files=3
        )

        page = domain_admin.get(f"{BASE}/{folder.pk}/change/").content.decode()

        assert "1 GiB of 4 GiB (25%), 3 files; not counted yet" in page

    def test_a_domain_admin_has_the_button(
        self, domain_admin: Client, folders: dict[str, VFolder]
    ) -> None:
        folder = folders["ours"]
        page = domain_admin.get(f"{BASE}/{folder.pk}/change/")

        assert f"{BASE}/{folder.pk}/recalculate_folder_usage/".encode() in page.content

    def test_a_monitor_has_no_button_and_no_list_actions(
        self, monitor: Client, folders: dict[str, VFolder]
    ) -> None:
        folder = folders["ours"]
        page = monitor.get(f"{BASE}/{folder.pk}/change/")
        listing = monitor.get(f"{BASE}/").content.decode()

        assert page.status_code == 200
        assert b"/recalculate_folder_usage/" not in page.content
        for name in ("trash", "restore", "purge", "recalculate_usage"):
            assert f'value="{name}"' not in listing, name


class TestRecalculateButton:
    def test_it_measures_the_folder_and_is_audited(
        self, domain_admin: Client, folders: dict[str, VFolder]
    ) -> None:
        folder = folders["ours"]
        Path(vfolder_root(folder) / "data.bin").write_bytes(b"x" * 10)

        response = domain_admin.post(f"{BASE}/{folder.pk}/recalculate_folder_usage/", CONFIRM)

        assert response.status_code == 302
        refreshed = VFolder.objects.get(pk=folder.pk)
        assert (refreshed.num_files, refreshed.cur_size) == (1, 10)
        assert refreshed.usage_updated_at is not None
        assert AuditLogEntry.objects.filter(
            action="admin:storage_app_vfolder_recalculate_folder_usage",
            target_id=str(folder.pk),
        ).exists()

    def test_another_domains_folder_is_refused(
        self, domain_admin: Client, folders: dict[str, VFolder]
    ) -> None:
        folder = folders["theirs"]
        Path(vfolder_root(folder) / "data.bin").write_bytes(b"x" * 10)

        response = domain_admin.post(f"{BASE}/{folder.pk}/recalculate_folder_usage/", CONFIRM)

        assert response.status_code == 403
        assert VFolder.objects.get(pk=folder.pk).cur_size == 0

    def test_a_monitors_post_is_refused(self, monitor: Client, folders: dict[str, VFolder]) -> None:
        folder = folders["ours"]

        response = monitor.post(f"{BASE}/{folder.pk}/recalculate_folder_usage/", CONFIRM)
        listed = monitor.post(f"{BASE}/", {"action": "trash", "_selected_action": [str(folder.pk)]})

        assert response.status_code == 403
        assert listed.status_code in (200, 302)
        assert VFolder.objects.get(pk=folder.pk).status == folders["ours"].status
