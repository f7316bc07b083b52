"""The official CLI's `session-template` and `dotfile` commands (backend.ai 26.9.6) against the
live ASGI server, as a superadmin, a domain admin, an admin of another domain and plain users:
each sees and changes only what its role allows (docs/compat/templates-dotfiles.md)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from backendai_site.accounts.enums import UserRole
from sessions_app.models import Session
from templates_app.enums import DotfileScope
from templates_app.models import Dotfile, SessionTemplate
from tests.factories.accounts import DomainFactory, ProjectFactory
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials
from tests.helpers.net import LiveServer

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

Result = subprocess.CompletedProcess[str]
CLI = Callable[..., Result]

TEMPLATE_YAML = """\
api_version: "6"
kind: taskTemplate
metadata:
  name: {name}
spec:
  session_type: interactive
  kernel:
    image: python
    environ:
      GREETING: {greeting}
"""


@pytest.fixture
def cli(official_client: Path, live_api_server: LiveServer, tmp_path: Path) -> CLI:
    """`backend.ai` signed with `creds`; `domain` sets BACKEND_DOMAIN (what the client sends
    as a new template's `domain_name`, "default" when unset)."""

    def run(
        creds: Credentials, *args: str, domain: str | None = None, input: str | None = None
    ) -> Result:
        env = {
            "PATH": f"{official_client.parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "BACKEND_ENDPOINT": live_api_server.url,
            "BACKEND_ENDPOINT_TYPE": "api",
            "BACKEND_ACCESS_KEY": creds.access_key,
            "BACKEND_SECRET_KEY": creds.secret_key,
        }
        if domain is not None:
            env["BACKEND_DOMAIN"] = domain
        return subprocess.run(
            [str(official_client), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            input=input,
        )

    return run


def output(result: Result) -> str:
    return result.stdout + result.stderr


def ok(result: Result) -> str:
    assert result.returncode == 0, output(result)
    assert "Traceback" not in output(result), output(result)
    return output(result)


def refused(result: Result) -> str:
    assert result.returncode != 0, output(result)
    assert "Traceback" not in output(result), output(result)
    return output(result)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


class People:
    def __init__(self, world: ComputeWorld) -> None:
        self.superadmin = world.admin
        self.user = world.user
        self.member = make_member(world.project, "member@example.com")
        self.domain_admin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)
        elsewhere = DomainFactory.create(name="elsewhere")
        self.foreign_project = ProjectFactory.create(name="default", domain=elsewhere)
        self.foreign_admin = make_member(self.foreign_project, "fadmin@example.com", UserRole.ADMIN)


@pytest.fixture
def people(world: ComputeWorld) -> People:
    return People(world)


def created_template_id(result: Result) -> str:
    match = re.search(r"Task template ([0-9a-f]{32}) created", ok(result))
    assert match, output(result)
    return match.group(1)


class TestSessionTemplateCommands:
    def test_owner_creates_lists_gets_updates_and_deletes(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        first = write(tmp_path, "t1.yaml", TEMPLATE_YAML.format(name="py-tpl", greeting="hello"))
        second = write(tmp_path, "t2.yaml", TEMPLATE_YAML.format(name="py-tpl2", greeting="bye"))

        template_id = created_template_id(
            cli(people.user, "session-template", "create", "-f", first)
        )
        listed = ok(cli(people.user, "session-template", "list"))
        as_yaml = ok(cli(people.user, "session-template", "get", template_id))
        as_json = ok(cli(people.user, "session-template", "get", template_id, "-f", "json"))
        updated = ok(cli(people.user, "session-template", "update", template_id, "-f", second))
        after = ok(cli(people.user, "session-template", "get", template_id))
        deleted = ok(cli(people.user, "session-template", "delete", template_id, "-f"))
        empty = ok(cli(people.user, "session-template", "list"))

        assert template_id in listed and "py-tpl" in listed and "task" in listed
        assert "GREETING: hello" in as_yaml and "kind: taskTemplate" in as_yaml
        assert '"GREETING": "hello"' in as_json
        assert f"Task template {template_id} updated" in updated
        assert "GREETING: bye" in after and "name: py-tpl2" in after
        assert f"Task template {template_id} deleted" in deleted
        assert "There is no task templates created yet." in empty
        stored = SessionTemplate.objects.get(pk=template_id)
        assert stored.is_active is False and stored.project is not None  # the config's group

    def test_the_delete_prompt_aborts_without_yes(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "t.yaml", TEMPLATE_YAML.format(name="keep", greeting="hi"))
        template_id = created_template_id(
            cli(people.user, "session-template", "create", "-f", path)
        )

        aborted = ok(cli(people.user, "session-template", "delete", template_id, input="n\n"))

        assert "Aborting." in aborted
        assert SessionTemplate.objects.get(pk=template_id).is_active

    def test_each_role_sees_and_changes_what_it_may(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "t.yaml", TEMPLATE_YAML.format(name="shared", greeting="hi"))
        change = write(tmp_path, "c.yaml", TEMPLATE_YAML.format(name="changed", greeting="x"))
        template_id = created_template_id(
            cli(people.user, "session-template", "create", "-f", path)
        )

        member_sees = ok(cli(people.member, "session-template", "get", template_id))
        member_update = refused(
            cli(people.member, "session-template", "update", template_id, "-f", change)
        )
        member_delete = refused(cli(people.member, "session-template", "delete", template_id, "-f"))
        foreign_get = refused(cli(people.foreign_admin, "session-template", "get", template_id))
        foreign_all = ok(cli(people.foreign_admin, "session-template", "list", "-a"))
        foreign_delete = refused(
            cli(people.foreign_admin, "session-template", "delete", template_id, "-f")
        )
        admin_update = ok(
            cli(people.domain_admin, "session-template", "update", template_id, "-f", change)
        )
        super_all = ok(cli(people.superadmin, "session-template", "list", "-a"))
        admin_delete = ok(cli(people.domain_admin, "session-template", "delete", template_id, "-f"))

        assert "name: shared" in member_sees
        assert "403" in member_update and "Only the owner or an admin" in member_update
        assert "403" in member_delete
        assert "404" in foreign_get and "404" in foreign_delete
        assert template_id not in foreign_all
        assert f"Task template {template_id} updated" in admin_update
        assert template_id in super_all and "changed" in super_all
        assert f"Task template {template_id} deleted" in admin_delete
        assert not SessionTemplate.objects.filter(pk=template_id, is_active=True).exists()

    def test_list_all_widens_staff_to_their_domain(
        self, cli: CLI, people: People, world: ComputeWorld, tmp_path: Path
    ) -> None:
        other = ProjectFactory.create(name="other-project", domain=world.domain)
        outsider = make_member(other, "outsider@example.com")
        path = write(tmp_path, "t.yaml", TEMPLATE_YAML.format(name="theirs", greeting="hi"))
        template_id = created_template_id(
            cli(outsider, "session-template", "create", "-f", path, "-g", "other-project")
        )

        user_list = ok(cli(people.user, "session-template", "list", "-a"))
        admin_own = ok(cli(people.domain_admin, "session-template", "list"))
        admin_all = ok(cli(people.domain_admin, "session-template", "list", "-a"))
        foreign_all = ok(cli(people.foreign_admin, "session-template", "list", "-a"))

        assert template_id not in user_list
        assert template_id not in admin_own
        assert template_id in admin_all and outsider.user.email not in admin_all
        assert template_id not in foreign_all

    def test_admin_creates_for_a_user_of_its_domain_only(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "t.yaml", TEMPLATE_YAML.format(name="for-you", greeting="hi"))
        owner_key = people.user.access_key

        by_admin = cli(
            people.domain_admin, "session-template", "create", "-f", path, "-o", owner_key
        )
        by_foreign = refused(
            cli(
                people.foreign_admin, "session-template", "create", "-f", path,
                "-o", owner_key, "-g", "default",
            )
        )  # fmt: skip
        by_user = refused(
            cli(people.member, "session-template", "create", "-f", path, "-o", owner_key)
        )
        template_id = created_template_id(by_admin)
        owner_list = ok(cli(people.user, "session-template", "list"))

        assert "403" in by_foreign and "403" in by_user
        assert template_id in owner_list
        assert SessionTemplate.objects.get(pk=template_id).user == people.user.user

    def test_a_foreign_domain_admin_creates_in_its_own_domain(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "t.yaml", TEMPLATE_YAML.format(name="there", greeting="hi"))

        wrong_domain = refused(cli(people.foreign_admin, "session-template", "create", "-f", path))
        template_id = created_template_id(
            cli(people.foreign_admin, "session-template", "create", "-f", path, domain="elsewhere")
        )

        assert "404" in wrong_domain and "elsewhere" in wrong_domain
        stored = SessionTemplate.objects.select_related("domain", "project").get(pk=template_id)
        assert stored.domain.name == "elsewhere" and stored.project == people.foreign_project

    def test_a_malformed_template_is_refused(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "bad.yaml", "kind: taskTemplate\nspec: {}\n")

        result = refused(cli(people.user, "session-template", "create", "-f", path))

        assert "400" in result
        assert not SessionTemplate.objects.exists()


class TestDotfileCommands:
    def test_user_scope_create_list_get_update_delete(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        first = write(tmp_path, "bashrc", "export GREETING=hello\nalias ll='ls -l'\n")
        second = write(tmp_path, "bashrc2", "export GREETING=bye\n")

        created = ok(cli(people.user, "dotfile", "create", ".bashrc", "-f", first, "--perm", "644"))
        listed = ok(cli(people.user, "dotfile", "list"))
        got = ok(cli(people.user, "dotfile", "get", ".bashrc"))
        updated = ok(cli(people.user, "dotfile", "update", ".bashrc", "-f", second))
        stored = Dotfile.objects.get(path=".bashrc")
        others = ok(cli(people.member, "dotfile", "list"))
        deleted = ok(cli(people.user, "dotfile", "delete", ".bashrc", "-f"))
        empty = ok(cli(people.user, "dotfile", "list"))

        assert "Dotfile .bashrc created and ready" in created
        assert ".bashrc" in listed and "644" in listed and "export GREETING=hello" in listed
        assert got == "export GREETING=hello\nalias ll='ls -l'\n\n"  # print() adds one
        assert "Dotfile .bashrc updated" in updated
        # the client sends 755 when --perm is not given
        assert stored.data == "export GREETING=bye\n" and stored.permission == 0o755
        assert stored.scope == DotfileScope.USER and stored.user == people.user.user
        assert "There is no dotfiles created yet." in others
        assert "Dotfile .bashrc deleted" in deleted
        assert "There is no dotfiles created yet." in empty

    def test_bad_paths_and_duplicates_are_refused(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        body = write(tmp_path, "body", "x=1\n")
        ok(cli(people.user, "dotfile", "create", ".xrc", "-f", body))

        again = refused(cli(people.user, "dotfile", "create", ".xrc", "-f", body))
        escape = refused(cli(people.user, "dotfile", "create", "../etc/x", "-f", body))
        bad_perm = refused(cli(people.user, "dotfile", "create", ".y", "-f", body, "--perm", "99"))
        missing = refused(cli(people.user, "dotfile", "get", ".nope"))

        assert "409" in again and "400" in escape and "400" in bad_perm and "404" in missing
        assert list(Dotfile.objects.values_list("path", flat=True)) == [".xrc"]

    def test_an_admin_acts_for_a_user_of_its_domain_only(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        body = write(tmp_path, "body", "set nu\n")
        owner_key = people.user.access_key

        by_admin = ok(
            cli(people.domain_admin, "dotfile", "create", ".vimrc", "-f", body, "-o", owner_key)
        )
        admin_list = ok(cli(people.domain_admin, "dotfile", "list", "-o", owner_key))
        admin_get = ok(cli(people.domain_admin, "dotfile", "get", ".vimrc", "-o", owner_key))
        by_foreign = refused(cli(people.foreign_admin, "dotfile", "get", ".vimrc", "-o", owner_key))
        by_member = refused(
            cli(people.member, "dotfile", "delete", ".vimrc", "-f", "-o", owner_key)
        )
        owner_list = ok(cli(people.user, "dotfile", "list"))

        assert "created and ready" in by_admin
        assert ".vimrc" in admin_list and "set nu" in admin_get
        assert "403" in by_foreign and "403" in by_member
        assert ".vimrc" in owner_list
        assert Dotfile.objects.get().user == people.user.user

    def test_domain_scope_by_role(self, cli: CLI, people: People, tmp_path: Path) -> None:
        body = write(tmp_path, "body", "domain-wide\n")
        change = write(tmp_path, "change", "changed\n")

        by_user = refused(cli(people.user, "dotfile", "create", ".d", "-f", body, "-d", "default"))
        by_foreign = refused(
            cli(people.foreign_admin, "dotfile", "create", ".d", "-f", body, "-d", "default")
        )
        by_admin = ok(
            cli(people.domain_admin, "dotfile", "create", ".d", "-f", body, "-d", "default")
        )
        user_list = ok(cli(people.user, "dotfile", "list", "-d", "default"))
        user_get = ok(cli(people.user, "dotfile", "get", ".d", "-d", "default"))
        user_update = refused(
            cli(people.user, "dotfile", "update", ".d", "-f", change, "-d", "default")
        )
        foreign_list = refused(cli(people.foreign_admin, "dotfile", "list", "-d", "default"))
        foreign_delete = refused(
            cli(people.foreign_admin, "dotfile", "delete", ".d", "-f", "-d", "default")
        )
        super_update = ok(
            cli(people.superadmin, "dotfile", "update", ".d", "-f", change, "-d", "default")
        )
        own_domain = ok(
            cli(people.foreign_admin, "dotfile", "create", ".e", "-f", body, "-d", "elsewhere")
        )
        user_delete = refused(cli(people.user, "dotfile", "delete", ".d", "-f", "-d", "default"))
        admin_delete = ok(
            cli(people.domain_admin, "dotfile", "delete", ".d", "-f", "-d", "default")
        )

        assert "403" in by_user and "Only admins change a domain's dotfiles" in by_user
        assert "404" in by_foreign  # another domain is not found, not forbidden
        assert "created and ready" in by_admin
        assert ".d" in user_list and "domain-wide" in user_get
        assert "403" in user_update and "403" in user_delete
        assert "404" in foreign_list and "404" in foreign_delete
        assert "updated" in super_update and "created and ready" in own_domain
        assert "deleted" in admin_delete
        remaining = Dotfile.objects.select_related("domain").get()
        assert remaining.scope == DotfileScope.DOMAIN and remaining.domain
        assert remaining.domain.name == "elsewhere"

    def test_group_scope_by_name_and_id(
        self, cli: CLI, people: People, world: ComputeWorld, tmp_path: Path
    ) -> None:
        body = write(tmp_path, "body", "project-wide\n")
        project_id = str(world.project.pk)

        by_user = refused(cli(people.user, "dotfile", "create", ".p", "-f", body, "-g", "default"))
        by_foreign = refused(
            cli(people.foreign_admin, "dotfile", "create", ".p", "-f", body, "-g", project_id)
        )
        by_admin = ok(
            cli(
                people.domain_admin, "dotfile", "create", ".p", "-f", body,
                "-g", "default", "-d", "default",
            )
        )  # fmt: skip
        by_id = ok(cli(people.user, "dotfile", "list", "-g", project_id))
        by_name = ok(cli(people.member, "dotfile", "get", ".p", "-g", "default", "-d", "default"))
        foreign_list = refused(cli(people.foreign_admin, "dotfile", "list", "-g", project_id))
        foreign_own = ok(cli(people.foreign_admin, "dotfile", "list", "-g", "default"))
        deleted = ok(cli(people.superadmin, "dotfile", "delete", ".p", "-f", "-g", project_id))

        assert "403" in by_user and "Only admins change a project's dotfiles" in by_user
        assert "404" in by_foreign
        assert "created and ready" in by_admin
        assert ".p" in by_id and "project-wide" in by_name
        assert "404" in foreign_list
        # without -d, a group name is looked up in the caller's own domain
        assert "There is no dotfiles created yet." in foreign_own
        assert "deleted" in deleted and not Dotfile.objects.exists()


FROM_TEMPLATE_SDK = """
import sys
from ai.backend.client.session import Session
with Session() as api:
    created = api.ComputeSession.create_from_template(
        sys.argv[1], name=sys.argv[2], enqueue_only=True
    )
    print("CREATED=" + str(created.id))
"""


class TestCreateFromTemplate:
    def test_the_cli_command_fails_client_side_before_any_request(
        self, cli: CLI, people: People, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "t.yaml", TEMPLATE_YAML.format(name="boot", greeting="hi"))
        template_id = created_template_id(
            cli(people.user, "session-template", "create", "-f", path)
        )

        result = cli(people.user, "session", "create-from-template", template_id, "-t", "tpl-cli")

        # lifecycle.py passes `attach_network=`; the SDK's parameter is `_attach_network`
        assert result.returncode == 1
        assert "unexpected keyword argument 'attach_network'" in output(result)
        assert not Session.objects.filter(name="tpl-cli").exists()

    def test_the_sdk_call_starts_a_session_of_the_template(
        self, cli: CLI, people: People, official_client: Path, live_api_server: LiveServer,
        tmp_path: Path,
    ) -> None:  # fmt: skip
        path = write(tmp_path, "t.yaml", TEMPLATE_YAML.format(name="boot", greeting="from-tpl"))
        template_id = created_template_id(
            cli(people.user, "session-template", "create", "-f", path)
        )
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "BACKEND_ENDPOINT": live_api_server.url,
            "BACKEND_ENDPOINT_TYPE": "api",
            "BACKEND_ACCESS_KEY": people.member.access_key,
            "BACKEND_SECRET_KEY": people.member.secret_key,
        }

        result = subprocess.run(
            [str(official_client.parent / "python"), "-c", FROM_TEMPLATE_SDK, template_id,
             "tpl-sdk"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

        assert result.returncode == 0 and "CREATED=" in output(result), output(result)
        session = Session.objects.get(name="tpl-sdk")
        assert session.user == people.member.user  # a project member may use the template
        assert session.environ["GREETING"] == "from-tpl"
