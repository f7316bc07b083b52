"""`/{user,group,domain}-config/dotfiles`: who may read and change each scope's dotfiles, the
path, permission and size rules, and the shapes the official client prints."""

from __future__ import annotations

from typing import Any

import pytest

from templates_app.models import Dotfile
from tests.helpers.signed import SignedApi
from tests.helpers.tenants import Tenants

pytestmark = pytest.mark.django_db

USER = "/user-config/dotfiles"
GROUP = "/group-config/dotfiles"
DOMAIN = "/domain-config/dotfiles"


def _type(response: Any) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


def _create(api: SignedApi, url: str, path: str = ".vimrc", **fields: Any) -> Any:
    body = {"data": "set nu\n", "path": path, "permission": "644", **fields}
    return api.call("POST", url, body)


class TestUserDotfiles:
    def test_create_list_get_update_delete(self, tenants: Tenants) -> None:
        owner = tenants.owner

        created = _create(owner, USER)
        listed = owner.call("GET", USER)
        got = owner.call("GET", USER, query={"path": ".vimrc"})
        updated = owner.call(
            "PATCH", USER, {"data": "set nonu\n", "path": ".vimrc", "permission": "600"}
        )
        after_update = owner.call("GET", USER, query={"path": ".vimrc"}).json()
        deleted = owner.call("DELETE", USER, query={"path": ".vimrc"})

        assert created.status_code == 200, created.content
        assert listed.json() == [{"path": ".vimrc", "permission": "644", "data": "set nu\n"}]
        assert got.json()["data"] == "set nu\n"
        assert updated.status_code == 200
        assert after_update == {"path": ".vimrc", "permission": "600", "data": "set nonu\n"}
        assert deleted.json() == {"success": True}
        assert not Dotfile.objects.exists()

    def test_each_user_has_their_own(self, tenants: Tenants) -> None:
        _create(tenants.owner, USER)

        assert tenants.member.call("GET", USER).json() == []
        missing = tenants.member.call("GET", USER, query={"path": ".vimrc"})
        assert missing.status_code == 404 and _type(missing) == "dotfile-not-found"

    def test_admin_acts_for_a_user_of_the_domain_only(self, tenants: Tenants) -> None:
        owner_key = tenants.owner.creds.access_key

        by_admin = _create(tenants.domain_admin, USER, owner_access_key=owner_key)
        by_foreign = _create(tenants.foreign_admin, USER, ".other", owner_access_key=owner_key)
        listed = tenants.domain_admin.call("GET", USER, query={"onwer_access_key": owner_key})

        assert by_admin.status_code == 200
        assert Dotfile.objects.get().user == tenants.owner.creds.user
        assert by_foreign.status_code == 403 and _type(by_foreign) == "insufficient-privilege"
        assert [row["path"] for row in listed.json()] == [".vimrc"]

    def test_a_second_create_of_a_path_conflicts(self, tenants: Tenants) -> None:
        _create(tenants.owner, USER)

        again = _create(tenants.owner, USER)

        assert again.status_code == 409 and _type(again) == "dotfile-already-exists"

    @pytest.mark.parametrize(
        "path",
        ["/etc/passwd", "../escape", "a/../../b", "", "a//b", "./x", "x\n", "~/.bashrc",
         ".ssh/authorized_keys", ".local/bin/x", "a" * 256],
    )  # fmt: skip
    def test_bad_paths_are_refused(self, tenants: Tenants, path: str) -> None:
        response = _create(tenants.owner, USER, path)

        assert response.status_code == 400, response.content
        assert _type(response) == "dotfile-invalid"

    @pytest.mark.parametrize("permission", ["999", "7777", "rwx", "-1", "12"])
    def test_bad_permissions_are_refused(self, tenants: Tenants, permission: str) -> None:
        response = _create(tenants.owner, USER, permission=permission)

        assert response.status_code == 400
        assert _type(response) == "dotfile-invalid"

    def test_the_scope_may_hold_at_most_64_kib(self, tenants: Tenants) -> None:
        first = _create(tenants.owner, USER, ".big1", data="x" * 40_000)

        second = _create(tenants.owner, USER, ".big2", data="x" * 30_000)

        assert first.status_code == 200
        assert second.status_code == 400 and _type(second) == "dotfile-limit-exceeded"

    def test_a_missing_path_is_invalid_params(self, tenants: Tenants) -> None:
        response = tenants.owner.call("POST", USER, {"data": "x"})

        assert response.status_code == 400 and _type(response) == "invalid-api-params"


class TestProjectDotfiles:
    def test_domain_admin_writes_and_members_read(self, tenants: Tenants) -> None:
        created = _create(tenants.domain_admin, GROUP, group="default", domain="default")

        as_member = tenants.member.call("GET", GROUP, query={"group": "default"})
        by_id = tenants.owner.call("GET", GROUP, query={"group": str(tenants.project.pk)})
        as_outsider = tenants.outsider.call("GET", GROUP, query={"group": "default"})
        as_foreign = tenants.foreign_admin.call(
            "GET", GROUP, query={"group": str(tenants.project.pk)}
        )

        assert created.status_code == 200, created.content
        assert [row["path"] for row in as_member.json()] == [".vimrc"]
        assert [row["path"] for row in by_id.json()] == [".vimrc"]
        assert as_outsider.status_code == 404 and _type(as_outsider) == "dotfile-scope-not-found"
        assert as_foreign.status_code == 404

    def test_members_may_not_write(self, tenants: Tenants) -> None:
        response = _create(tenants.member, GROUP, group="default")

        assert response.status_code == 403
        assert _type(response) == "scope-action-not-permitted"

    def test_group_is_required(self, tenants: Tenants) -> None:
        response = _create(tenants.domain_admin, GROUP)

        assert response.status_code == 400 and _type(response) == "invalid-api-params"


class TestDomainDotfiles:
    def test_domain_admin_writes_and_domain_users_read(self, tenants: Tenants) -> None:
        created = _create(tenants.domain_admin, DOMAIN, domain="default")

        as_user = tenants.outsider.call("GET", DOMAIN, query={"domain": "default"})
        as_foreign = tenants.foreign_admin.call("GET", DOMAIN, query={"domain": "default"})
        foreign_write = _create(tenants.foreign_admin, DOMAIN, ".x", domain="default")
        user_write = _create(tenants.owner, DOMAIN, ".y", domain="default")

        assert created.status_code == 200, created.content
        assert [row["path"] for row in as_user.json()] == [".vimrc"]
        assert as_foreign.status_code == 404
        assert foreign_write.status_code == 404
        assert user_write.status_code == 403 and _type(user_write) == "scope-action-not-permitted"
