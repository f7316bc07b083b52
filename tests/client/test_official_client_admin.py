"""The official CLI's `admin` commands backed by the admin GraphQL, as a superadmin, a domain admin
and a plain user, against the live ASGI server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agents_app.models import Image, ImageAlias, ResourceGroup
from backendai_site.accounts.enums import UserRole, UserStatus
from backendai_site.accounts.models import Domain, KeyPair, KeypairResourcePolicy, Project, User
from backendai_site.accounts.services import keypair_issue, keypair_secret, user_create
from tests.factories.agents import ImageFactory
from tests.factories.sessions import SessionFactory
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

CLI = Callable[..., Any]


def output(result: Any) -> str:
    return str(result.stdout + result.stderr)


def ok(result: Any) -> str:
    assert result.returncode == 0, output(result)
    assert "Traceback" not in output(result)
    return output(result)  # the CLI prints its "done" lines on stderr


def refused(result: Any) -> str:
    assert result.returncode != 0, output(result)
    assert "Traceback" not in output(result)
    return output(result)


@pytest.fixture
def far_user(world: ComputeWorld) -> Credentials:
    domain = Domain.objects.create(name="other")
    user = user_create(email="far@example.com", password="pw-123456", domain=domain)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


@pytest.fixture
def domain_admin(world: ComputeWorld) -> Credentials:
    return make_member(world.project, "dadmin@example.com", UserRole.ADMIN)


class TestAdminUser:
    def test_superadmin_manages_users(
        self, run_cli: CLI, world: ComputeWorld, far_user: Credentials
    ) -> None:
        admin = world.admin
        added = ok(run_cli(admin, "admin", "user", "add", "default", "new@example.com", "pw-12345",
                           "-u", "newbie", "-n", "New Person"))  # fmt: skip
        listed = ok(run_cli(admin, "admin", "user", "list"))
        info = ok(run_cli(admin, "admin", "user", "info", "-e", "new@example.com"))
        filtered = ok(run_cli(admin, "admin", "user", "list", "--filter", 'email ilike "%far%"'))
        updated = ok(run_cli(admin, "admin", "user", "update", "new@example.com", "-r", "admin"))

        assert "new@example.com" in added
        assert "far@example.com" in listed and "new@example.com" in listed
        assert "New Person" in info and "default" in info
        assert "far@example.com" in filtered and "new@example.com" not in filtered
        assert "updated" in updated.lower() or "success" in updated.lower()
        new = User.objects.get(email="new@example.com")
        assert new.role == UserRole.ADMIN and new.projects.get().name == "default"

        ok(run_cli(admin, "admin", "user", "delete", "new@example.com"))
        assert User.objects.get(email="new@example.com").status == UserStatus.DELETED
        ok(run_cli(admin, "admin", "user", "purge", "new@example.com", input="y\n"))
        assert not User.objects.filter(email="new@example.com").exists()

        bad = refused(run_cli(admin, "admin", "user", "list", "--filter", 'secret == "x"'))
        assert "cannot filter by 'secret'" in bad

    def test_domain_admin_stays_in_its_domain(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials, far_user: Credentials
    ) -> None:
        listed = ok(run_cli(domain_admin, "admin", "user", "list"))
        group = "00000000-0000-0000-0000-000000000001"
        outside = refused(run_cli(domain_admin, "admin", "user", "add", "other", "x@example.com",
                                  "pw-12345", "-g", group))  # fmt: skip
        escalate = refused(
            run_cli(
                domain_admin, "admin", "user", "update", world.user.user.email, "-r", "superadmin"
            )
        )
        ok(run_cli(domain_admin, "admin", "user", "add", "default", "mine@example.com", "pw-12345"))

        assert world.user.user.email in listed and "far@example.com" not in listed
        assert "you may not manage the domain other" in outside
        assert "may not grant the role superadmin" in escalate
        assert User.objects.get(email="mine@example.com").domain.name == "default"
        assert User.objects.get(email=world.user.user.email).role == UserRole.USER

    def test_plain_user_sees_itself_only(self, run_cli: CLI, world: ComputeWorld) -> None:
        me = ok(run_cli(world.user, "admin", "user", "info"))
        listing = refused(run_cli(world.user, "admin", "user", "list"))
        adding = refused(
            run_cli(world.user, "admin", "user", "add", "default", "x@example.com", "pw-12345")
        )

        assert world.user.user.email in me
        assert "listing users needs an admin or monitor role" in listing
        assert "a user may not change accounts" in adding
        assert not User.objects.filter(email="x@example.com").exists()


class TestAdminKeypair:
    def test_superadmin_issues_a_keypair_that_works(
        self, run_cli: CLI, world: ComputeWorld
    ) -> None:
        email = world.user.user.email
        before = set(KeyPair.objects.values_list("pk", flat=True))
        added = ok(run_cli(world.admin, "admin", "keypair", "add", email, "default", "-r", "800"))
        (new_key,) = set(KeyPair.objects.values_list("pk", flat=True)) - before
        keypair = KeyPair.objects.get(pk=new_key)
        secret = keypair_secret(keypair=keypair)
        assert new_key in added and secret in added  # the secret is shown this once

        fresh = Credentials(user=world.user.user, keypair=keypair, secret_key=secret)
        info = ok(run_cli(fresh, "admin", "keypair", "info"))
        assert new_key in info and secret not in info

        listed = ok(run_cli(world.admin, "admin", "keypair", "list", "-u", email))
        ok(run_cli(world.admin, "admin", "keypair", "update", new_key, "--rate-limit", "900"))
        ok(run_cli(world.admin, "admin", "keypair", "deactivate", new_key))
        keypair.refresh_from_db()
        assert new_key in listed and world.admin.access_key not in listed
        assert (keypair.rate_limit, keypair.is_active) == (900, False)
        assert run_cli(fresh, "admin", "keypair", "info").returncode != 0

        ok(run_cli(world.admin, "admin", "keypair", "activate", new_key))
        ok(run_cli(fresh, "admin", "keypair", "info"))
        ok(run_cli(world.admin, "admin", "keypair", "delete", new_key))
        assert not KeyPair.objects.filter(pk=new_key).exists()

    def test_domain_admin_and_user(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials, far_user: Credentials
    ) -> None:
        listed = ok(run_cli(domain_admin, "admin", "keypair", "list"))
        outside = refused(run_cli(domain_admin, "admin", "keypair", "add", "far@example.com",
                                  "default"))  # fmt: skip
        own = ok(run_cli(world.user, "admin", "keypair", "list"))
        by_user = refused(
            run_cli(world.user, "admin", "keypair", "deactivate", world.admin.access_key)
        )

        assert world.user.access_key in listed and far_user.access_key not in listed
        assert "no user 'far@example.com' visible to you" in outside
        assert world.user.access_key in own and world.admin.access_key not in own
        assert "a user may not change accounts" in by_user
        assert KeyPair.objects.get(pk=world.admin.access_key).is_active


class TestAdminDomainAndGroup:
    def test_superadmin_manages_domains(self, run_cli: CLI, world: ComputeWorld) -> None:
        admin = world.admin
        ok(run_cli(admin, "admin", "domain", "add", "lab", "-d", "Lab"))
        ok(run_cli(admin, "admin", "domain", "update", "lab", "--description", "Lab 2"))
        listed = ok(run_cli(admin, "admin", "domain", "list"))
        info = ok(run_cli(admin, "admin", "domain", "info", "lab"))
        ok(run_cli(admin, "admin", "domain", "delete", "lab"))
        assert "lab" in listed and "default" in listed and "Lab 2" in info
        assert not Domain.objects.get(name="lab").is_active
        ok(run_cli(admin, "admin", "domain", "purge", "lab", input="y\n"))
        assert not Domain.objects.filter(name="lab").exists()

    def test_domain_admin_manages_groups(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials, far_user: Credentials
    ) -> None:
        dadmin = domain_admin
        ok(run_cli(dadmin, "admin", "group", "add", "default", "team", "-d", "Team"))
        gid = str(Project.objects.get(name="team").pk)
        ok(run_cli(dadmin, "admin", "group", "update", gid, "--description", "Team 2"))
        ok(run_cli(dadmin, "admin", "group", "add-users", gid, str(world.user.user.pk)))
        listed = ok(run_cli(dadmin, "admin", "group", "list"))
        info = ok(run_cli(world.user, "admin", "group", "info", gid))
        foreign = refused(
            run_cli(dadmin, "admin", "group", "add-users", gid, str(far_user.user.pk))
        )
        domain_add = refused(run_cli(dadmin, "admin", "domain", "add", "mine"))

        assert "team" in listed and "Team 2" in info
        assert "not in the domain default" in foreign
        assert "a admin may not manage domains" in domain_add
        assert world.user.user.projects.filter(pk=gid).exists()

        ok(run_cli(dadmin, "admin", "group", "remove-users", gid, str(world.user.user.pk)))
        by_user = refused(run_cli(world.user, "admin", "group", "delete", gid))
        ok(run_cli(dadmin, "admin", "group", "delete", gid))
        ok(run_cli(dadmin, "admin", "group", "purge", gid, input="y\n"))
        assert "a user may not change accounts" in by_user
        assert not Project.objects.filter(pk=gid).exists()


class TestAdminKeypairResourcePolicy:
    def test_superadmin_manages_and_others_read(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        slots = '{"cpu": "2"}'
        ok(run_cli(world.admin, "admin", "keypair-resource-policy", "add", "small",
                   "--max-concurrent-sessions", "2", "--total-resource-slots", slots))  # fmt: skip
        ok(run_cli(world.admin, "admin", "keypair-resource-policy", "update", "small",
                   "--max-concurrent-sessions", "4"))  # fmt: skip
        listed = ok(run_cli(domain_admin, "admin", "keypair-resource-policy", "list"))
        info = ok(run_cli(world.user, "admin", "keypair-resource-policy", "info", "default"))
        by_admin = refused(run_cli(domain_admin, "admin", "keypair-resource-policy", "add", "mine"))

        assert "small" in listed and "default" in listed
        assert "default" in info
        assert "a admin may not manage resource policies" in by_admin
        assert KeypairResourcePolicy.objects.get(name="small").max_concurrent_sessions == 4

        ok(run_cli(world.admin, "admin", "keypair-resource-policy", "delete", "small", input="y\n"))
        assert not KeypairResourcePolicy.objects.filter(name="small").exists()


class TestAdminAgentAndScalingGroup:
    def test_superadmin_reads_agents_and_manages_groups(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        admin = world.admin
        agents = ok(run_cli(admin, "admin", "agent", "list"))
        agent = ok(run_cli(admin, "admin", "agent", "info", world.agent.id))
        ok(run_cli(admin, "admin", "scaling-group", "add", "gpu", "--scheduler", "drf"))
        ok(run_cli(admin, "admin", "scaling-group", "update", "gpu", "--description", "GPUs"))
        ok(run_cli(admin, "admin", "scaling-group", "associate-scaling", "gpu", "default"))
        groups = ok(run_cli(admin, "admin", "scaling-group", "list"))
        info = ok(run_cli(domain_admin, "admin", "scaling-group", "info", "gpu"))
        by_admin = refused(run_cli(domain_admin, "admin", "agent", "list"))
        by_user = refused(run_cli(world.user, "admin", "scaling-group", "add", "x"))

        assert world.agent.id in agents and "default" in agents
        assert world.agent.id in agent
        assert "gpu" in groups and "drf" in groups and "GPUs" in info
        assert "reading agents needs a superadmin or monitor role" in by_admin
        assert "a user may not manage resource groups" in by_user

        ok(run_cli(admin, "admin", "scaling-group", "dissociate-scaling", "gpu", "default"))
        ok(run_cli(admin, "admin", "scaling-group", "delete", "gpu"))
        assert not ResourceGroup.objects.filter(name="gpu").exists()


class TestAdminImage:
    def test_superadmin_aliases_forgets_and_purges(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        spare = ImageFactory.create(name="bai/spare", tag="1.0")
        other = ImageFactory.create(name="bai/other", tag="2.0")
        admin = world.admin

        aliased = ok(run_cli(admin, "admin", "image", "alias", "spare", "bai/spare:1.0"))
        listed = ok(run_cli(world.user, "image", "list"))
        by_admin = output(run_cli(domain_admin, "admin", "image", "alias", "x", "bai/spare:1.0"))
        dealiased = ok(run_cli(admin, "admin", "image", "dealias", "spare"))

        assert "An alias has created: spare -> bai/spare:1.0" in aliased
        assert "spare" in listed
        assert "a admin may not manage images" in by_admin
        assert "The alias has been removed: spare" in dealiased
        assert not ImageAlias.objects.filter(alias__in=["spare", "x"]).exists()

        by_user = output(run_cli(world.user, "image", "forget", str(other.pk)))
        forgot = ok(run_cli(admin, "image", "forget", "bai/spare:1.0", "--arch", "x86_64"))
        purged = ok(run_cli(admin, "image", "purge", str(other.pk)))

        assert "a user may not manage images" in by_user
        assert "Image forgotten" in forgot and "Image purged" in purged
        assert not Image.objects.filter(pk__in=[spare.pk, other.pk]).exists()


class TestAdminSession:
    def test_admins_list_and_inspect_sessions_of_their_scope(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials, far_user: Credentials
    ) -> None:
        mine = SessionFactory.create(
            name="adm-listed", domain=world.domain, project=world.project, user=world.user.user,
            access_key=world.user.keypair, resource_group=world.group, image=world.image,
        )  # fmt: skip
        listed = ok(run_cli(world.admin, "admin", "session", "list"))
        by_domain_admin = ok(run_cli(domain_admin, "admin", "session", "list"))
        info = ok(run_cli(world.admin, "admin", "session", "info", str(mine.pk)))
        far = output(run_cli(far_user, "admin", "session", "info", str(mine.pk)))

        assert "adm-listed" in listed and "adm-listed" in by_domain_admin
        assert str(mine.pk) in info and "PENDING" in info
        assert "adm-listed" not in far
        assert "adm-listed" not in ok(run_cli(far_user, "admin", "session", "list"))

    def test_admin_image_list_shows_the_catalog(self, run_cli: CLI, world: ComputeWorld) -> None:
        listed = ok(run_cli(world.admin, "admin", "image", "list"))
        assert "bai/python" in listed and "3.11" in listed
