"""Per-host folder permissions (`allowed_vfolder_hosts` of the domain, the user's projects and
keypair policies): enforced on create, modify, delete, upload, download, invite and mount;
validated when written; listed by `vfolder_host_permissions`."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, KeypairResourcePolicy
from backendai_site.accounts.policy_services import policy_modify
from backendai_site.accounts.tenancy_services import domain_modify
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.vfolder_host_permissions import host_permissions_parse
from backendai_site.graphql.schema import schema
from storage_app.errors import VFolderHostPermissionDenied
from storage_app.services.mounts import session_mounts_resolve
from tests.factories.accounts import ProjectFactory, UserFactory
from tests.helpers.storage import Api

pytestmark = pytest.mark.django_db

HOST = "local:volume1"
DENIED = "vfolder-host-permission-denied"


def grant(domain: Domain, *permissions: str) -> None:
    domain.allowed_vfolder_hosts = {HOST: list(permissions)}
    domain.save()


def refused(response: Any) -> bool:
    return response.status_code == 403 and response.json()["type"].endswith(f"/{DENIED}")


class TestEnforcement:
    def test_without_any_map_everything_is_allowed(self, alice: Api) -> None:
        assert alice.call("POST", "/folders", {"name": "free"}).status_code == 201
        assert alice.call("GET", "/folders/_/hosts").json()["allowed"] == [HOST]

    def test_create_only_allows_create_and_nothing_else(self, alice: Api, domain: Domain) -> None:
        grant(domain, "create-vfolder")

        created = alice.call("POST", "/folders", {"name": "limited"})
        folder = created.json()["id"]

        assert created.status_code == 201, created.content
        assert refused(alice.call("POST", f"/folders/{folder}/rename", {"new_name": "other"}))
        assert refused(alice.call(
            "POST", f"/folders/{folder}/request-upload", {"path": "f", "size": 1}
        ))  # fmt: skip
        assert refused(alice.call("DELETE", "/folders", {"id": folder}))
        with pytest.raises(VFolderHostPermissionDenied):
            session_mounts_resolve(
                user=alice.creds.user, mounts=["limited"], mount_map={}, mount_options={}
            )

    def test_a_host_no_map_names_is_not_offered(self, alice: Api, domain: Domain) -> None:
        domain.allowed_vfolder_hosts = {"local:elsewhere": ["create-vfolder"]}
        domain.save()

        hosts = alice.call("GET", "/folders/_/hosts").json()
        created = alice.call("POST", "/folders", {"name": "nowhere"})

        assert hosts["allowed"] == []
        assert created.status_code == 400
        assert created.json()["type"].endswith("/vfolder-host-not-allowed")

    def test_project_and_keypair_maps_add_to_the_domains(
        self, alice: Api, bob: Api, domain: Domain
    ) -> None:
        grant(domain, "create-vfolder", "invite-others")
        project = ProjectFactory.create(
            name="uploaders", domain=domain, allowed_vfolder_hosts={HOST: ["upload-file"]}
        )
        project.members.add(alice.creds.user)
        policy = KeypairResourcePolicy.objects.create(
            name="downloaders", allowed_vfolder_hosts={HOST: ["download-file"]}
        )
        alice.creds.keypair.resource_policy = policy
        alice.creds.keypair.save()
        folder = alice.call("POST", "/folders", {"name": "mixed"}).json()["id"]

        upload = alice.call("POST", f"/folders/{folder}/request-upload", {"path": "f", "size": 0})
        download = alice.call("POST", f"/folders/{folder}/request-download", {"path": "f"})
        invite = alice.call(
            "POST", f"/folders/{folder}/invite", {"perm": "ro", "user_ids": ["bob@example.com"]}
        )
        bob_creates = bob.call("POST", "/folders", {"name": "bobs"})

        assert upload.status_code == 200, upload.content
        assert download.status_code == 200, download.content
        assert invite.status_code in (200, 201), invite.content
        assert bob_creates.status_code == 201  # the domain's map grants create to everyone


class TestValidationOnWrite:
    def test_a_domain_update_with_an_unknown_permission_is_refused(self, domain: Domain) -> None:
        root = UserFactory.create(role=UserRole.SUPERADMIN)

        with pytest.raises(InvalidAPIParameters, match="fly-to-the-moon"):
            domain_modify(
                actor=root, name=domain.name,
                changes={"allowed_vfolder_hosts": '{"local:volume1": ["fly-to-the-moon"]}'},
            )  # fmt: skip

        domain.refresh_from_db()
        assert domain.allowed_vfolder_hosts == {}

    def test_a_policy_update_with_a_bad_shape_is_refused(self) -> None:
        root = UserFactory.create(role=UserRole.SUPERADMIN)
        KeypairResourcePolicy.objects.create(name="shaped")

        with pytest.raises(InvalidAPIParameters, match="must be a list"):
            policy_modify(
                actor=root, model=KeypairResourcePolicy, name="shaped",
                values={"allowed_vfolder_hosts": '{"local:volume1": "upload-file"}'},
            )  # fmt: skip

    def test_the_clients_default_map_is_accepted_with_its_older_names(self) -> None:
        """`keypair-resource-policy add` sends "set-user-perm" and "clone-vfolder" by default."""
        root = UserFactory.create(role=UserRole.SUPERADMIN)
        KeypairResourcePolicy.objects.create(name="legacy")
        sent = '{"local:volume1": ["create-vfolder", "set-user-perm", "clone-vfolder"]}'

        policy_modify(
            actor=root, model=KeypairResourcePolicy, name="legacy",
            values={"allowed_vfolder_hosts": sent},
        )  # fmt: skip

        stored = KeypairResourcePolicy.objects.get(name="legacy").allowed_vfolder_hosts
        assert host_permissions_parse(stored) == {
            HOST: frozenset({"create-vfolder", "set-user-specific-permission", "clone-vfolder"})
        }

    def test_the_admin_form_validator_refuses_it_too(self, domain: Domain) -> None:
        domain.allowed_vfolder_hosts = {HOST: ["mount-anything"]}

        with pytest.raises(ValidationError, match="mount-anything"):
            domain.full_clean()


def test_the_atomic_permissions_are_listed(alice: Api) -> None:
    result = schema.execute(
        "query { vfolder_host_permissions { vfolder_host_permission_list } }",
        context_value={"keypair": alice.creds.keypair},
    )

    assert result.errors is None
    assert result.data["vfolder_host_permissions"]["vfolder_host_permission_list"] == [
        "create-vfolder", "modify-vfolder", "delete-vfolder", "mount-in-session", "upload-file",
        "download-file", "invite-others", "set-user-specific-permission", "clone-vfolder",
    ]  # fmt: skip
