"""Folder administration over REST (`admin vfolder ...`): the shares of administered folders,
an invitee's permission changed or removed, a folder given to another owner, and the volumes'
mounts, performance metrics and fstab; who may do each, and bad input."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain
from storage_app.enums import InvitationState, VFolderStatus
from storage_app.models import StorageVolume, VFolder, VFolderInvitation, VFolderPermission
from storage_app.services.volumes import vfolder_root
from tests.factories.accounts import DomainFactory, ProjectFactory
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db

HOST = "local:volume1"


def share(owner: Api, vfid: str, invitee: Api, perm: str = "ro") -> None:
    response = owner.call(
        "POST", f"/folders/{vfid}/invite", {"perm": perm, "user_ids": [invitee.creds.user.email]}
    )
    assert response.status_code == 201, response.content
    pending = invitee.call("GET", "/folders/invitations/list").json()["invitations"]
    accepted = invitee.call("POST", "/folders/invitations/accept", {"inv_id": pending[0]["id"]})
    assert accepted.status_code == 200, accepted.content


def error_type(response: Any) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


@pytest.fixture
def superadmin(make_api: Callable[..., Api]) -> Api:
    return make_api(email="root@example.com", username="root", role=UserRole.SUPERADMIN)


@pytest.fixture
def domain_admin(make_api: Callable[..., Api]) -> Api:
    return make_api(email="dadmin@example.com", username="dadmin", role=UserRole.ADMIN)


@pytest.fixture
def shared_folder(alice: Api, bob: Api, alice_folder: str) -> str:
    share(alice, alice_folder, bob, "ro")
    return alice_folder


@pytest.fixture
def other_domain_user(make_api: Callable[..., Api]) -> Api:
    return make_api(email="carol@example.com", username="carol", domain=DomainFactory.create())


class TestSharedList:
    def test_a_superadmin_sees_every_share_with_its_folder_and_invitee(
        self, superadmin: Api, bob: Api, shared_folder: str
    ) -> None:
        response = superadmin.call("GET", "/folders/_/shared")

        assert response.status_code == 200, response.content
        (row,) = response.json()["shared"]
        folder = VFolder.objects.get(pk=shared_folder)
        assert row == {
            "vfolder_id": str(folder.pk),
            "vfolder_name": "data1",
            "status": "ready",
            "owner": str(folder.user_id),
            "type": "user",
            "shared_to": {"uuid": str(bob.creds.user.pk), "email": "bob@example.com"},
            "perm": "ro",
        }

    def test_one_folder_by_id_and_an_unknown_or_bad_id(
        self, superadmin: Api, shared_folder: str
    ) -> None:
        one = superadmin.call("GET", f"/folders/_/shared?vfolder_id={shared_folder}")
        unknown = superadmin.call("GET", f"/folders/_/shared?vfolder_id={uuid.uuid4()}")
        bad = superadmin.call("GET", "/folders/_/shared?vfolder_id=nope")

        assert [r["vfolder_id"] for r in one.json()["shared"]] == [str(uuid.UUID(shared_folder))]
        assert (unknown.status_code, error_type(unknown)) == (404, "vfolder-not-found")
        assert (bad.status_code, error_type(bad)) == (400, "invalid-api-params")

    def test_a_domain_admin_sees_only_its_domains_shares(
        self,
        domain_admin: Api,
        other_domain_user: Api,
        make_api: Callable[..., Api],
        shared_folder: str,
    ) -> None:
        dave = make_api(
            email="dave@example.com", username="dave", domain=other_domain_user.creds.user.domain
        )
        response = other_domain_user.call("POST", "/folders", {"name": "theirs"})
        share(other_domain_user, response.json()["id"], dave)

        listed = domain_admin.call("GET", "/folders/_/shared").json()["shared"]
        foreign = domain_admin.call("GET", f"/folders/_/shared?vfolder_id={response.json()['id']}")

        assert [r["vfolder_name"] for r in listed] == ["data1"]
        assert foreign.status_code == 404

    def test_plain_users_are_refused_even_for_their_own_folder(
        self, alice: Api, shared_folder: str
    ) -> None:
        listed = alice.call("GET", "/folders/_/shared")
        one = alice.call("GET", f"/folders/_/shared?vfolder_id={shared_folder}")

        assert (listed.status_code, one.status_code) == (403, 403)

    def test_the_list_takes_a_constant_number_of_queries(
        self, superadmin: Api, alice: Api, make_api: Callable[..., Api], shared_folder: str
    ) -> None:
        with CaptureQueriesContext(connection) as one_share:
            superadmin.call("GET", "/folders/_/shared")
        for n in range(3):
            share(alice, shared_folder, make_api(email=f"u{n}@example.com", username=f"u{n}"))
        with CaptureQueriesContext(connection) as four_shares:
            response = superadmin.call("GET", "/folders/_/shared")

        assert len(response.json()["shared"]) == 4
        assert len(four_shares.captured_queries) == len(one_share.captured_queries)


class TestSharedUpdate:
    def test_an_admin_changes_then_removes_an_invitees_permission(
        self, domain_admin: Api, bob: Api, shared_folder: str
    ) -> None:
        body = {"vfolder": shared_folder, "user": str(bob.creds.user.pk), "perm": "wd"}

        changed = domain_admin.call("POST", "/folders/_/shared", body)
        perm = VFolderPermission.objects.get(vfolder_id=shared_folder).permission
        removed = domain_admin.call("POST", "/folders/_/shared", {**body, "perm": None})

        assert changed.status_code == 200, changed.content
        assert perm == "wd"
        assert removed.status_code == 200, removed.content
        assert not VFolderPermission.objects.exists()
        assert bob.call("GET", f"/folders/{shared_folder}").status_code == 404

    @pytest.mark.parametrize(
        ("change", "status", "kind"),
        [
            ({"perm": "xx"}, 400, "invalid-api-params"),
            ({"user": "not-a-uuid"}, 400, "invalid-api-params"),
            ({"vfolder": str(uuid.uuid4())}, 404, "vfolder-not-found"),
            ({"user": str(uuid.uuid4())}, 404, "vfolder-user-not-found"),
        ],
    )
    def test_bad_input(
        self,
        superadmin: Api,
        bob: Api,
        shared_folder: str,
        change: dict[str, Any],
        status: int,
        kind: str,
    ) -> None:
        body = {"vfolder": shared_folder, "user": str(bob.creds.user.pk), "perm": "rw", **change}

        response = superadmin.call("POST", "/folders/_/shared", body)

        assert (response.status_code, error_type(response)) == (status, kind)
        assert VFolderPermission.objects.get().permission == "ro"

    def test_a_user_without_a_share_and_a_plain_user(
        self, superadmin: Api, alice: Api, bob: Api, shared_folder: str
    ) -> None:
        no_share = superadmin.call(
            "POST",
            "/folders/_/shared",
            {"vfolder": shared_folder, "user": str(alice.creds.user.pk), "perm": "rw"},
        )
        plain = alice.call(
            "POST",
            "/folders/_/shared",
            {"vfolder": shared_folder, "user": str(bob.creds.user.pk), "perm": "wd"},
        )

        assert (no_share.status_code, error_type(no_share)) == (404, "vfolder-share-not-found")
        assert plain.status_code == 403
        assert VFolderPermission.objects.get().permission == "ro"


class TestChangeOwnership:
    def test_the_folder_moves_with_its_files_into_the_new_owners_scope(
        self, superadmin: Api, alice: Api, bob: Api, shared_folder: str
    ) -> None:
        folder = VFolder.objects.select_related("volume").get(pk=shared_folder)
        (vfolder_root(folder) / "hello.txt").write_text("hi")
        pending = VFolderInvitation.objects.create(
            vfolder=folder, inviter=alice.creds.user, invitee=bob.creds.user, permission="rw"
        )

        response = superadmin.call(
            "POST",
            "/folders/_/change-ownership",
            {"vfolder": shared_folder, "user_email": "bob@example.com"},
        )

        assert response.status_code == 200, response.content
        folder.refresh_from_db()
        assert (folder.user_id, folder.quota_scope_id) == (
            bob.creds.user.pk,
            f"user:{bob.creds.user.pk}",
        )
        assert (vfolder_root(folder) / "hello.txt").read_text() == "hi"
        assert not VFolderPermission.objects.filter(vfolder=folder).exists()
        pending.refresh_from_db()
        assert pending.state == InvitationState.CANCELED
        files = bob.call("GET", f"/folders/{shared_folder}/files").json()["items"]
        assert [f["name"] for f in files] == ["hello.txt"]
        assert alice.call("GET", f"/folders/{shared_folder}").status_code == 404

    @pytest.mark.parametrize(
        ("body", "status", "kind"),
        [
            ({"user_email": "nobody@example.com"}, 404, "vfolder-user-not-found"),
            ({"vfolder": str(uuid.uuid4())}, 404, "vfolder-not-found"),
            ({"vfolder": "nope"}, 400, "invalid-api-params"),
            ({"user_email": ""}, 400, "invalid-api-params"),
        ],
    )
    def test_bad_input(
        self,
        superadmin: Api,
        bob: Api,
        alice_folder: str,
        body: dict[str, Any],
        status: int,
        kind: str,
    ) -> None:
        request = {"vfolder": alice_folder, "user_email": "bob@example.com", **body}

        response = superadmin.call("POST", "/folders/_/change-ownership", request)

        assert (response.status_code, error_type(response)) == (status, kind)
        assert VFolder.objects.get(pk=alice_folder).user_id != bob.creds.user.pk

    def test_refusals_leave_the_folder_with_its_owner(
        self,
        superadmin: Api,
        domain_admin: Api,
        alice: Api,
        bob: Api,
        alice_folder: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        body = {"vfolder": alice_folder, "user_email": "bob@example.com"}
        bob.call("POST", "/folders", {"name": "data1"})
        taken = superadmin.call("POST", "/folders/_/change-ownership", body)
        by_admin = domain_admin.call("POST", "/folders/_/change-ownership", body)
        by_owner = alice.call("POST", "/folders/_/change-ownership", body)
        monkeypatch.setattr(
            "storage_app.services.administration.vfolder_mount_users",
            lambda ids: {uuid.UUID(alice_folder): ["s1"]},
        )
        in_use = superadmin.call(
            "POST",
            "/folders/_/change-ownership",
            {"vfolder": alice_folder, "user_email": "dadmin@example.com"},
        )

        assert (taken.status_code, error_type(taken)) == (409, "vfolder-already-exists")
        assert (by_admin.status_code, by_owner.status_code) == (403, 403)
        assert (in_use.status_code, error_type(in_use)) == (409, "vfolder-in-use")
        assert VFolder.objects.get(pk=alice_folder).user_id == alice.creds.user.pk

    def test_a_directory_that_cannot_move_leaves_everything_as_it_was(
        self,
        superadmin: Api,
        alice: Api,
        bob: Api,
        alice_folder: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def fail(*args: Any, **kwargs: Any) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("storage_app.backends.vfs.VfsBackend.folder_move", fail)
        body = {"vfolder": alice_folder, "user_email": "bob@example.com"}

        response = superadmin.call("POST", "/folders/_/change-ownership", body)

        assert (response.status_code, error_type(response)) == (503, "storage-volume-unavailable")
        folder = VFolder.objects.get(pk=alice_folder)
        assert folder.quota_scope_id == f"user:{alice.creds.user.pk}"
        assert vfolder_root(folder).is_dir()

    def test_a_project_folder_or_a_trashed_one_is_refused(
        self, superadmin: Api, alice: Api, alice_folder: str, domain: Domain
    ) -> None:
        ProjectFactory.create(name="proj", domain=domain)
        project_folder = superadmin.call("POST", "/folders", {"name": "pf", "group": "proj"})
        VFolder.objects.filter(pk=alice_folder).update(status=VFolderStatus.DELETE_PENDING)

        trashed = superadmin.call(
            "POST",
            "/folders/_/change-ownership",
            {"vfolder": alice_folder, "user_email": "root@example.com"},
        )
        of_project = superadmin.call(
            "POST",
            "/folders/_/change-ownership",
            {"vfolder": project_folder.json()["id"], "user_email": "root@example.com"},
        )

        assert (trashed.status_code, error_type(trashed)) == (409, "vfolder-bad-status")
        assert (of_project.status_code, error_type(of_project)) == (400, "invalid-api-params")


class TestVolumes:
    def test_mounts_report_each_active_volume_and_whether_it_is_reachable(
        self, superadmin: Api, volume: StorageVolume
    ) -> None:
        StorageVolume.objects.create(name="local:gone", mount_path="/nonexistent/gone")
        StorageVolume.objects.create(name="local:off", mount_path="/x", is_active=False)

        body = superadmin.call("GET", "/folders/_/mounts").json()

        by_host = {m["host"]: m for m in body["manager"]["mounts"]}
        assert set(by_host) == {HOST, "local:gone"}
        assert by_host[HOST]["reachable"] is True
        assert by_host["local:gone"]["reachable"] is False
        assert body["manager"]["success"] is False
        assert "local:gone" in body["manager"]["message"]
        assert body["storage_proxy"]["mounts"] == [[HOST, volume.mount_path]]
        assert body["agents"] == {}

    def test_perf_metric_says_the_backend_has_none(self, superadmin: Api) -> None:
        known = superadmin.call("GET", f"/folders/_/perf-metric?folder_host={HOST}")
        unknown = superadmin.call("GET", "/folders/_/perf-metric?folder_host=local:nope")
        missing = superadmin.call("GET", "/folders/_/perf-metric")

        assert (known.status_code, error_type(known)) == (400, "storage-perf-metric-unsupported")
        assert "vfs backend" in known.json()["msg"]
        assert (unknown.status_code, error_type(unknown)) == (404, "storage-volume-not-found")
        assert missing.status_code == 400

    def test_fstab_of_the_manager_is_a_note_and_of_an_agent_is_refused(
        self, superadmin: Api
    ) -> None:
        manager = superadmin.call("GET", "/folders/_/fstab")
        agent = superadmin.call("GET", "/folders/_/fstab?agent_id=i-agent")
        by_path = superadmin.call("GET", "/folders/_/fstab?fstab_path=/etc/shadow")

        assert manager.status_code == 200
        assert manager.json()["node"] == "manager"
        assert manager.json()["content"].startswith("#")
        assert (agent.status_code, error_type(agent)) == (400, "node-fstab-unavailable")
        assert by_path.status_code == 400

    @pytest.mark.parametrize(
        "path",
        ["/folders/_/mounts", f"/folders/_/perf-metric?folder_host={HOST}", "/folders/_/fstab"],
    )
    def test_only_superadmins(self, domain_admin: Api, alice: Api, path: str) -> None:
        assert domain_admin.call("GET", path).status_code == 403
        assert alice.call("GET", path).status_code == 403

    def test_mounting_a_host_is_not_offered(self, superadmin: Api) -> None:
        mount = superadmin.call("POST", "/folders/_/mounts", {"name": "x", "fs_location": "/"})
        umount = superadmin.call("DELETE", "/folders/_/mounts", {"name": "x"})

        assert (mount.status_code, umount.status_code) == (405, 405)
