"""The folder REST API (COMPAT.md section 6) through DRF, on real PostgreSQL and a tmp volume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, ProjectMembership
from storage_app.enums import VFolderStatus
from storage_app.models import StorageVolume, VFolder
from storage_app.services.volumes import vfolder_root
from tests.factories.accounts import DomainFactory, ProjectFactory
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db


class TestFolderCreate:
    def test_create_makes_row_and_directory_in_the_layout(
        self, alice: Api, volume: StorageVolume
    ) -> None:
        response = alice.call(
            "POST",
            "/folders",
            {
                "name": "myvf",
                "host": None,
                "group": None,
                "usage_mode": "general",
                "permission": "rw",
                "cloneable": False,
                "unmanaged_path": None,
            },
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["name"] == "myvf"
        vfolder = VFolder.objects.get(pk=body["id"])
        hexid = vfolder.pk.hex
        expected = (
            Path(volume.mount_path)
            / f"user_{alice.creds.user.pk}"
            / hexid[:2]
            / hexid[2:4]
            / hexid[4:]
        )
        assert vfolder_root(vfolder) == expected
        assert expected.is_dir()

    def test_duplicate_name_is_a_conflict(self, alice: Api, alice_folder: str) -> None:
        response = alice.call("POST", "/folders", {"name": "data1"})
        assert response.status_code == 409
        assert response.json()["type"].endswith("/vfolder-already-exists")

    @pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", "", "x" * 65, "a\x00b"])
    def test_bad_names_are_refused(self, alice: Api, name: str) -> None:
        response = alice.call("POST", "/folders", {"name": name})
        assert response.status_code == 400

    def test_unknown_host_is_refused(self, alice: Api) -> None:
        response = alice.call("POST", "/folders", {"name": "x", "host": "nowhere:vol"})
        assert response.status_code == 400
        assert response.json()["type"].endswith("/vfolder-host-not-allowed")

    def test_folder_count_limit_of_the_user_policy(self, alice: Api) -> None:
        policy = alice.creds.user.resource_policy
        policy.max_vfolder_count = 1
        policy.save()
        assert alice.call("POST", "/folders", {"name": "one"}).status_code == 201
        response = alice.call("POST", "/folders", {"name": "two"})
        assert response.status_code == 400
        assert response.json()["type"].endswith("/vfolder-count-limit")


class TestFolderVisibility:
    def test_id_lookup_and_info(self, alice: Api, alice_folder: str) -> None:
        assert alice.vfid("data1") == alice_folder
        info = alice.call("GET", f"/folders/{alice_folder}").json()
        assert info["is_owner"] is True
        assert info["type"] == "user"
        assert info["numFiles"] == 0

    def test_another_user_sees_nothing_by_name_or_id(self, bob: Api, alice_folder: str) -> None:
        assert bob.call("GET", "/folders/_/id", {"name": "data1"}).status_code == 404
        for method, path, body in [
            ("GET", f"/folders/{alice_folder}", None),
            ("GET", f"/folders/{alice_folder}/files?path=.", None),
            ("POST", f"/folders/{alice_folder}/mkdir", {"path": ["x"]}),
            ("POST", f"/folders/{alice_folder}/request-upload", {"path": "a", "size": 1}),
            ("POST", f"/folders/{alice_folder}/request-download", {"path": "a"}),
            ("POST", f"/folders/{alice_folder}/rename", {"new_name": "mine"}),
            ("DELETE", "/folders", {"id": alice_folder}),
            ("DELETE", f"/folders/{alice_folder}/delete-files", {"files": ["a"]}),
        ]:
            response = bob.call(method, path, body)
            assert response.status_code == 404, (method, path, response.content)

    def test_hosts_lists_the_default_volume(self, alice: Api) -> None:
        body = alice.call("GET", "/folders/_/hosts").json()
        assert body["default"] == "local:volume1"
        assert body["allowed"] == ["local:volume1"]


class TestFileOperations:
    def test_mkdir_ls_rename_move_delete(self, alice: Api, alice_folder: str) -> None:
        r = alice.call(
            "POST",
            f"/folders/{alice_folder}/mkdir",
            {"path": ["d1", "d2/d3"], "parents": True, "exist_ok": False},
        )
        assert r.status_code == 201, r.content
        r = alice.call(
            "POST",
            f"/folders/{alice_folder}/mkdir",
            {"path": ["d1"], "parents": False, "exist_ok": False},
        )
        assert r.status_code == 200
        assert r.json()["results"]["failed"][0]["item"] == "d1"
        root = vfolder_root(VFolder.objects.get(pk=alice_folder))
        (root / "a.txt").write_text("hello")
        items = alice.call("GET", f"/folders/{alice_folder}/files?path=.").json()["items"]
        assert {(i["name"], i["type"]) for i in items} == {
            ("a.txt", "FILE"),
            ("d1", "DIRECTORY"),
            ("d2", "DIRECTORY"),
        }
        assert (
            alice.call(
                "POST",
                f"/folders/{alice_folder}/rename-file",
                {"target_path": "a.txt", "new_name": "b.txt"},
            ).status_code
            == 200
        )
        assert (
            alice.call(
                "POST", f"/folders/{alice_folder}/move-file", {"src": "b.txt", "dst": "d1/"}
            ).status_code
            == 200
        )
        assert (root / "d1" / "b.txt").read_text() == "hello"
        assert (
            alice.call(
                "DELETE",
                f"/folders/{alice_folder}/delete-files",
                {"files": ["d1"], "recursive": False},
            ).status_code
            == 409
        )
        assert (
            alice.call(
                "DELETE",
                f"/folders/{alice_folder}/delete-files",
                {"files": ["d1"], "recursive": True},
            ).status_code
            == 200
        )
        assert not (root / "d1").exists()

    def test_rename_into_another_directory_is_refused(self, alice: Api, alice_folder: str) -> None:
        root = vfolder_root(VFolder.objects.get(pk=alice_folder))
        (root / "a.txt").write_text("x")
        r = alice.call(
            "POST",
            f"/folders/{alice_folder}/rename-file",
            {"target_path": "a.txt", "new_name": "../b.txt"},
        )
        assert r.status_code == 400
        assert r.json()["type"].endswith("/vfolder-unsafe-path")


class TestTrash:
    def test_delete_restore_purge(self, alice: Api, alice_folder: str) -> None:
        root = vfolder_root(VFolder.objects.get(pk=alice_folder))
        assert alice.call("DELETE", "/folders", {"id": alice_folder}).status_code == 204
        assert VFolder.objects.get(pk=alice_folder).status == VFolderStatus.DELETE_PENDING
        # a trashed folder's files cannot be used
        assert alice.call("GET", f"/folders/{alice_folder}/files").status_code == 404
        assert (
            alice.call("POST", "/folders/restore-from-trash-bin", {"id": alice_folder}).status_code
            == 204
        )
        assert VFolder.objects.get(pk=alice_folder).status == VFolderStatus.READY
        assert alice.call("DELETE", "/folders", {"id": alice_folder}).status_code == 204
        assert alice.call("POST", "/folders/purge", {"id": alice_folder}).status_code == 204
        assert VFolder.objects.get(pk=alice_folder).status == VFolderStatus.DELETE_COMPLETE
        assert not root.exists()
        # the name is free again
        assert alice.call("POST", "/folders", {"name": "data1"}).status_code == 201

    def test_purge_of_a_ready_folder_is_refused(self, alice: Api, alice_folder: str) -> None:
        r = alice.call("POST", "/folders/purge", {"id": alice_folder})
        assert r.status_code == 409
        assert r.json()["type"].endswith("/vfolder-bad-status")


class TestSharing:
    def test_invite_accept_then_leave(self, alice: Api, bob: Api, alice_folder: str) -> None:
        r = alice.call(
            "POST",
            f"/folders/{alice_folder}/invite",
            {"perm": "ro", "user_ids": ["bob@example.com"]},
        )
        assert r.json()["invited_ids"] == ["bob@example.com"]
        invitations = bob.call("GET", "/folders/invitations/list").json()["invitations"]
        assert [i["vfolder_name"] for i in invitations] == ["data1"]
        assert (
            bob.call(
                "POST", "/folders/invitations/accept", {"inv_id": invitations[0]["id"]}
            ).status_code
            == 200
        )
        info = bob.call("GET", f"/folders/{bob.vfid('data1')}").json()
        assert info["permission"] == "ro" and info["is_owner"] is False
        # read-only: no writes
        r = bob.call("POST", f"/folders/{alice_folder}/mkdir", {"path": ["x"]})
        assert r.status_code == 403
        assert r.json()["type"].endswith("/vfolder-permission-denied")
        assert (
            bob.call(
                "POST", f"/folders/{alice_folder}/leave", {"shared_user_uuid": None}
            ).status_code
            == 200
        )
        assert bob.call("GET", "/folders/_/id", {"name": "data1"}).status_code == 404

    def test_reject_invitation(self, alice: Api, bob: Api, alice_folder: str) -> None:
        alice.call(
            "POST",
            f"/folders/{alice_folder}/invite",
            {"perm": "rw", "user_ids": ["bob@example.com"]},
        )
        inv = bob.call("GET", "/folders/invitations/list").json()["invitations"][0]
        assert (
            bob.call("DELETE", "/folders/invitations/delete", {"inv_id": inv["id"]}).status_code
            == 200
        )
        assert bob.call("GET", "/folders/invitations/list").json()["invitations"] == []
        assert bob.call("GET", "/folders/_/id", {"name": "data1"}).status_code == 404


class TestAdminsAndProjects:
    def test_domain_admin_reaches_a_folder_by_id_only(
        self, make_api: Any, alice_folder: str
    ) -> None:
        admin = make_api(email="dadmin@example.com", username="dadmin", role=UserRole.ADMIN)
        assert admin.call("GET", f"/folders/{alice_folder}").status_code == 200
        assert admin.call("GET", "/folders/_/id", {"name": "data1"}).status_code == 404
        stranger = make_api(
            email="far@example.com", username="far", role=UserRole.ADMIN,
            domain=DomainFactory.create(name="far-away"),
        )  # fmt: skip
        assert stranger.call("GET", f"/folders/{alice_folder}").status_code == 404

    def test_project_folder_count_limit_and_member_visibility(
        self, make_api: Any, alice: Api, domain: Domain
    ) -> None:
        admin = make_api(email="padmin@example.com", username="padmin", role=UserRole.ADMIN)
        project = ProjectFactory.create(name="lab", domain=domain)
        ProjectMembership.objects.create(project=project, user=alice.creds.user)
        project.resource_policy.max_vfolder_count = 1
        project.resource_policy.save()
        assert admin.call("POST", "/folders", {"name": "labvf", "group": "lab"}).status_code == 201
        r = admin.call("POST", "/folders", {"name": "labvf2", "group": str(project.pk)})
        assert r.status_code == 400
        assert r.json()["type"].endswith("/vfolder-count-limit")
        info = alice.call("GET", f"/folders/{alice.vfid('labvf')}").json()
        assert info["type"] == "group" and info["permission"] == "rw"
        # a plain member may not create project folders
        assert alice.call("POST", "/folders", {"name": "mine", "group": "lab"}).status_code == 403
        # the project policy bounds the project scope's bytes
        project.resource_policy.max_quota_scope_size = 10
        project.resource_policy.save()
        r = alice.call(
            "POST", f"/folders/{alice.vfid('labvf')}/request-upload", {"path": "f", "size": 11}
        )
        assert r.status_code == 400
        assert r.json()["type"].endswith("/vfolder-quota-exceeded")

    def test_update_options(self, alice: Api, alice_folder: str) -> None:
        r = alice.call(
            "POST",
            f"/folders/{alice_folder}/update-options",
            {"cloneable": True, "permission": "ro"},
        )
        assert r.status_code == 201
        folder = VFolder.objects.get(pk=alice_folder)
        assert folder.cloneable is True and folder.permission == "ro"
