"""The storage admin: domain admins scoped to their domain; trash, purge and usage actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain
from storage_app.enums import VFolderStatus
from storage_app.models import StorageVolume, VFolder
from storage_app.services.folders import VFolderCreate, vfolder_create
from storage_app.services.volumes import vfolder_root
from tests.factories.accounts import DomainFactory
from tests.helpers.credentials import make_credentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def folders(volume: StorageVolume, domain: Domain) -> dict[str, VFolder]:
    mine = make_credentials(email="in@example.com", username="in", domain=domain).user
    other = make_credentials(
        email="out@example.com", username="out", domain=DomainFactory.create(name="elsewhere")
    ).user
    return {
        "inside": vfolder_create(user=mine, request=VFolderCreate(name="our-folder")),
        "outside": vfolder_create(user=other, request=VFolderCreate(name="their-folder")),
    }


@pytest.fixture
def domain_admin(domain: Domain) -> Client:
    admin = make_credentials(
        email="dadmin@example.com", username="dadmin", domain=domain, role=UserRole.ADMIN
    ).user
    client = Client()
    client.force_login(admin)
    return client


class TestVFolderAdmin:
    def test_domain_admin_sees_only_own_domain(
        self, domain_admin: Client, folders: dict[str, VFolder]
    ) -> None:
        response = domain_admin.get("/admin/storage_app/vfolder/")
        assert response.status_code == 200
        assert b"our-folder" in response.content
        assert b"their-folder" not in response.content  # "outside" is in the theme's markup
        other = folders["outside"].pk
        assert domain_admin.get(f"/admin/storage_app/vfolder/{other}/change/").status_code == 302

    def test_trash_then_purge_actions(
        self, domain_admin: Client, folders: dict[str, VFolder]
    ) -> None:
        folder = folders["inside"]
        root = vfolder_root(folder)
        for action in ("trash", "purge"):
            response = domain_admin.post(
                "/admin/storage_app/vfolder/",
                {"action": action, "_selected_action": [str(folder.pk)]},
            )
            assert response.status_code == 302
        assert VFolder.objects.get(pk=folder.pk).status == VFolderStatus.DELETE_COMPLETE
        assert not root.exists()

    def test_recalculate_usage(self, domain_admin: Client, folders: dict[str, VFolder]) -> None:
        folder = folders["inside"]
        Path(vfolder_root(folder) / "f").write_bytes(b"1234")
        domain_admin.post(
            "/admin/storage_app/vfolder/",
            {"action": "recalculate_usage", "_selected_action": [str(folder.pk)]},
        )
        refreshed = VFolder.objects.get(pk=folder.pk)
        assert (refreshed.num_files, refreshed.cur_size) == (1, 4)

    def test_volume_list_for_superadmin(self, folders: dict[str, VFolder]) -> None:
        root = make_credentials(email="root@example.com", username="root", role=UserRole.SUPERADMIN)
        client = Client()
        client.force_login(root.user)
        response = client.get("/admin/storage_app/storagevolume/")
        assert response.status_code == 200
        assert b"local:volume1" in response.content
