"""The official CLI's REST extras (manager status/freeze, announcement update, scheduler
include/exclude, server logs, resource slots, registries, available scaling groups) as a
superadmin, a domain admin and a plain user, against the live ASGI server."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from agents_app.models import Agent, AgentResource, ContainerRegistry
from backendai_site.accounts.enums import UserRole
from backendai_site.manager.models import ErrorLog
from backendai_site.manager.selectors import manager_is_frozen
from sessions_app.enums import KernelStatus, SessionStatus
from sessions_app.models import Kernel
from tests.factories.sessions import SessionFactory
from tests.factories.world import GIB, ComputeWorld, make_member
from tests.helpers.credentials import Credentials

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

CLI = Callable[..., Any]


def output(result: Any) -> str:
    return str(result.stdout + result.stderr)


def ok(result: Any) -> str:
    assert result.returncode == 0, output(result)
    assert "Traceback" not in output(result)
    return output(result)


def refused(result: Any) -> str:
    assert result.returncode != 0, output(result)
    assert "Traceback" not in output(result)
    return output(result)


@pytest.fixture
def domain_admin(world: ComputeWorld) -> Credentials:
    return make_member(world.project, "dadmin@example.com", UserRole.ADMIN)


class TestManagerCommands:
    def test_superadmin_freezes_and_sessions_are_refused(
        self, run_cli: CLI, world: ComputeWorld
    ) -> None:
        status = ok(run_cli(world.admin, "admin", "manager", "status"))
        ok(run_cli(world.admin, "admin", "manager", "freeze"))
        frozen_status = ok(run_cli(world.user, "admin", "manager", "status"))
        create = run_cli(world.user, "session", "create", "--enqueue-only", "python")
        ok(run_cli(world.admin, "admin", "manager", "unfreeze"))

        assert "running" in status and "Active Sessions" in status
        assert "frozen" in frozen_status
        assert "server-frozen" in output(create) or "frozen" in output(create).lower()
        assert "Traceback" not in output(create)
        assert not manager_is_frozen()

    def test_others_may_not_freeze(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        for creds in (world.user, domain_admin):
            assert "superadmin" in refused(run_cli(creds, "admin", "manager", "freeze")).lower()
        assert not manager_is_frozen()

    def test_scheduler_exclude_and_include_agents(self, run_cli: CLI, world: ComputeWorld) -> None:
        agent_id = world.agent.pk
        ok(run_cli(world.admin, "admin", "manager", "scheduler", "exclude-agents", agent_id))
        assert Agent.objects.get(pk=agent_id).schedulable is False
        refused(run_cli(world.user, "admin", "manager", "scheduler", "include-agents", agent_id))
        assert Agent.objects.get(pk=agent_id).schedulable is False
        ok(run_cli(world.admin, "admin", "manager", "scheduler", "include-agents", agent_id))
        assert Agent.objects.get(pk=agent_id).schedulable is True


class TestAnnouncementCommands:
    def test_update_get_and_delete(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        ok(run_cli(world.admin, "admin", "announcement", "update", "-m", "maintenance at noon"))
        shown = ok(run_cli(world.user, "admin", "announcement", "get"))
        denied = refused(run_cli(domain_admin, "admin", "announcement", "update", "-m", "mine"))
        ok(run_cli(world.admin, "admin", "announcement", "delete", input="y\n"))
        gone = ok(run_cli(world.user, "admin", "announcement", "get"))

        assert "maintenance at noon" in shown
        assert "superadmin" in denied.lower()
        assert "No announcements" in gone


class TestServerLogs:
    def test_each_role_lists_its_scope(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        ErrorLog.objects.create(severity="error", source="webui", user=world.user.user,
                                message="user saw this", context_lang="js",
                                request_url="/session", request_status=500)  # fmt: skip
        ErrorLog.objects.create(severity="critical", source="manager", user=None,
                                message="anonymous failure", context_lang="python")  # fmt: skip

        mine = ok(run_cli(world.user, "server-logs", "list"))
        domain = ok(run_cli(domain_admin, "server-logs", "list"))
        everything = ok(run_cli(world.admin, "server-logs", "list", "--mark-read"))

        assert "Total log count: 1" in mine and "user saw this" in mine
        assert "anonymous failure" not in domain and "user saw this" in domain
        assert "Total log count: 2" in everything and "CRITICAL" in everything
        assert ErrorLog.objects.filter(is_read=True).count() == 2


class TestResourceCommands:
    def test_query_slots_and_registries(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        ContainerRegistry.objects.create(name="127.0.0.1:5000", url="http://127.0.0.1:5000")

        slots = ok(run_cli(world.user, "admin", "resource", "query-slots"))
        registries = ok(run_cli(world.admin, "admin", "resource", "container-registries"))
        denied = run_cli(domain_admin, "admin", "resource", "container-registries")

        assert "cpu (count)" in slots and "mem (bytes)" in slots
        assert "127.0.0.1:5000" in registries
        assert "127.0.0.1:5000" not in output(denied) and "Traceback" not in output(denied)

    def test_vfolder_types(self, run_cli: CLI, world: ComputeWorld) -> None:
        printed = ok(run_cli(world.user, "admin", "resource", "vfolder-types"))
        assert printed.split() == ["user", "group"]

    def test_scaling_group_get_available(self, run_cli: CLI, world: ComputeWorld) -> None:
        available = ok(run_cli(world.user, "admin", "scaling-group", "get-available", "default"))
        unknown = run_cli(world.user, "admin", "scaling-group", "get-available", "nope")

        assert "default" in available
        assert unknown.returncode != 0 and "No project 'nope'" in output(unknown)


class TestRecalculateUsage:
    def test_superadmin_repairs_drifted_usage_and_others_may_not(
        self, run_cli: CLI, world: ComputeWorld, domain_admin: Credentials
    ) -> None:
        held = SessionFactory.create(
            domain=world.domain, project=world.project, user=world.user.user,
            access_key=world.user.keypair, resource_group=world.group, image=world.image,
            status=SessionStatus.RUNNING,
        )  # fmt: skip
        Kernel.objects.filter(session=held).update(
            agent=world.agent, status=KernelStatus.RUNNING, holds_resources=True,
            occupied_slots={"cpu": "1.5", "mem": str(GIB)},
        )  # fmt: skip
        gone = SessionFactory.create(
            domain=world.domain, project=world.project, user=world.user.user,
            access_key=world.user.keypair, resource_group=world.group, image=world.image,
            status=SessionStatus.TERMINATED,
        )  # fmt: skip
        Kernel.objects.filter(session=gone).update(
            agent=world.agent, status=KernelStatus.TERMINATED, holds_resources=False,
            occupied_slots={"cpu": "2", "mem": str(GIB)},
        )  # fmt: skip
        drifted = AgentResource.objects.filter(agent=world.agent)
        drifted.filter(slot_name="cpu").update(used=Decimal("3.5"))
        drifted.filter(slot_name="mem").update(used=0)

        denied = output(run_cli(domain_admin, "admin", "resource", "recalculate-usage"))
        assert "Only a superadmin may recalculate resource usage" in denied
        assert drifted.get(slot_name="cpu").used == Decimal("3.5")

        done = ok(run_cli(world.admin, "admin", "resource", "recalculate-usage"))
        assert "Resource allocation is re-calculated." in done
        assert drifted.get(slot_name="cpu").used == Decimal("1.5")
        assert drifted.get(slot_name="mem").used == GIB


class TestUpdatePasswordNoAuth:
    def test_encrypted_body_over_http_changes_the_password(
        self, run_cli: CLI, world: ComputeWorld
    ) -> None:
        email = world.user.user.email
        changed = ok(run_cli(world.user, "update-password-no-auth", "default", email,
                             "pw-123456", "new-pw-12345"))  # fmt: skip
        wrong = run_cli(world.user, "update-password-no-auth", "default", email,
                        "pw-123456", "other-pw-123")  # fmt: skip

        assert "Password updated" in changed
        assert "Invalid domain, e-mail or password" in output(wrong)
        world.user.user.refresh_from_db()
        assert world.user.user.check_password("new-pw-12345")
