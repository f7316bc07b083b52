"""The console's front page and its chart data: what each role sees, and in how many queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from agents_app.enums import AgentStatus
from agents_app.models import Agent, Image, ResourceGroup, ResourceGroupForDomain
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, Project
from backendai_site.console.selectors import dashboard_for
from sessions_app.enums import SessionStatus
from sessions_app.models import Session, UsageInterval, WarmPool
from tests.factories.accounts import DomainFactory, ProjectFactory
from tests.factories.agents import ResourceGroupFactory
from tests.factories.sessions import SessionFactory
from tests.factories.world import ComputeWorld, add_agent, make_member
from tests.helpers.credentials import Credentials

pytestmark = pytest.mark.django_db

GIB = 1024**3


@dataclass
class TwoDomains:
    world: ComputeWorld
    other: Domain
    other_project: Project
    other_group: ResourceGroup
    other_agent: Agent
    mine: Session
    theirs: Session
    domain_admin: Credentials
    monitor: Credentials


def ledger_row(
    *, project: Project, domain: Domain, group: str, at: datetime, cpu: str, hours: int = 1
) -> UsageInterval:
    seconds = Decimal(3600 * hours)
    return UsageInterval.objects.create(
        kernel_id=uuid.uuid4(), session_id=uuid.uuid4(), session_name="s", user_id=uuid.uuid4(),
        user_email="u@example.com", access_key="AKTEST", project_id=project.pk,
        project_name=project.name, domain_name=domain.name, resource_group=group,
        started_at=at, ended_at=at + timedelta(seconds=float(seconds)), seconds=seconds,
        slots={"cpu": cpu, "mem": str(GIB)},
        slot_seconds={"cpu": str(Decimal(cpu) * seconds), "mem": str(GIB * seconds)},
    )  # fmt: skip


def pending_in(
    *, domain: Domain, project: Project, group: ResourceGroup, name: str, position: int
) -> Session:
    session = SessionFactory.create(
        name=name, domain=domain, project=project, resource_group=group,
        status_data={
            "scheduler": {
                "verdict": "insufficient-capacity",
                "msg": "Not enough free capacity.",
                "checks": [{"check": "agent-capacity", "slot": "cpu", "requested": "16",
                            "available": "4", "short_by": "12"}],
                "queue_position": position,
                "queue_length": 2,
            }
        },
    )  # fmt: skip
    return session


@pytest.fixture
def two_domains(world: ComputeWorld) -> TwoDomains:
    other = DomainFactory.create(name="elsewhere")
    other_project = ProjectFactory.create(name="secret-project", domain=other)
    other_group = ResourceGroupFactory.create(name="private-rg", is_public=False)
    ResourceGroupForDomain.objects.create(resource_group=other_group, domain=other)
    other_agent = add_agent(other_group, cpu=32, mem_gib=64, id="i-secret-agent")
    add_agent(world.group, id="i-lost-agent", status=AgentStatus.LOST)
    mine = pending_in(
        domain=world.domain, project=world.project, group=world.group, name="my-waiting",
        position=2,
    )  # fmt: skip
    theirs = pending_in(
        domain=other, project=other_project, group=other_group, name="their-waiting",
        position=1,
    )  # fmt: skip
    SessionFactory.create(
        name="my-running", domain=world.domain, project=world.project,
        resource_group=world.group, status=SessionStatus.RUNNING,
    )  # fmt: skip
    now = timezone.now()
    ledger_row(
        project=world.project, domain=world.domain, group="default",
        at=now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2), cpu="2",
    )  # fmt: skip
    ledger_row(
        project=other_project, domain=other, group="private-rg",
        at=now.replace(minute=0, second=0, microsecond=0) - timedelta(days=3), cpu="8",
    )  # fmt: skip
    return TwoDomains(
        world=world, other=other, other_project=other_project, other_group=other_group,
        other_agent=other_agent, mine=mine, theirs=theirs,
        domain_admin=make_member(world.project, "dadmin@example.com", UserRole.ADMIN),
        monitor=make_member(world.project, "dmon@example.com", UserRole.MONITOR),
    )  # fmt: skip


def page_of(credentials: Credentials, path: str = "/admin/") -> str:
    client = Client()
    client.force_login(credentials.user)
    response = client.get(path)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


class TestDashboardPage:
    def test_superadmin_sees_every_domain_capacity_queue_and_broken_agents(
        self, two_domains: TwoDomains
    ) -> None:
        page = page_of(two_domains.world.admin)

        assert 'id="console-dashboard"' in page
        assert "Resource group private-rg" in page
        assert "Resource group default" in page
        assert "0 CPUs / 32 CPUs" in page and "64 GiB" in page  # the private agent's room
        assert "i-secret-agent" in page
        assert "their-waiting" in page and "my-waiting" in page
        assert "needs 16 CPUs, the largest free on one agent is 4 CPUs; 2nd of 2 in queue" in page
        assert "FIFO" in page
        agents_down = page.split('id="agents-down"')[1].split("</ul>")[0]
        assert "i-lost-agent" in agents_down and "i-secret-agent" not in agents_down
        assert "secret-project" in page  # usage of the other domain's project
        assert "RUNNING: 1" in page and "PENDING: 2" in page

    @pytest.mark.parametrize("who", ["domain_admin", "monitor"])
    def test_a_domain_confined_user_never_sees_another_domain(
        self, two_domains: TwoDomains, who: str
    ) -> None:
        page = page_of(getattr(two_domains, who))

        assert "my-waiting" in page
        assert "Resource group default" in page
        for foreign in ("their-waiting", "private-rg", "i-secret-agent", "secret-project"):
            assert foreign not in page, foreign
        assert "PENDING: 1" in page
        assert two_domains.world.project.name in page  # its own usage row

    def test_agents_table_only_for_roles_that_open_the_agents_page(
        self, two_domains: TwoDomains
    ) -> None:
        assert 'id="agent-capacity"' in page_of(two_domains.monitor)
        assert 'id="agent-capacity"' not in page_of(two_domains.domain_admin)

    def test_page_renders_every_number_without_javascript(self, two_domains: TwoDomains) -> None:
        page = page_of(two_domains.world.admin)
        table = page.split('id="usage-table"')[1].split("</table>")[0]

        assert two_domains.world.project.name in table
        assert "2 core-hours" in table  # 2 CPUs for an hour, 2 hours ago
        assert "8 core-hours" in table  # the other project's, 3 days ago, in the 30 days only

    def test_anonymous_is_sent_to_the_login_page(self) -> None:
        response = Client().get("/admin/")
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


class TestUsageEndpoint:
    def test_series_per_project_by_hour_and_day(self, two_domains: TwoDomains) -> None:
        client = Client()
        client.force_login(two_domains.world.admin.user)

        body = client.get("/admin/console/usage.json").json()

        day, month = body["day"], body["month"]
        assert len(day["labels"]) == 24 and len(month["labels"]) == 30
        mine = two_domains.world.project.name
        assert sum(day["starts"][mine]) == 1
        assert day["slot_hours"]["cpu"][mine][-3] == pytest.approx(2.0)  # two hours back
        assert day["slot_hours"]["mem"][mine][-3] == pytest.approx(1.0)  # GiB-hours
        assert "secret-project" not in day["starts"]  # 3 days ago: outside the 24 hours
        assert sum(month["slot_hours"]["cpu"]["secret-project"]) == pytest.approx(8.0)
        assert sum(month["starts"]["secret-project"]) == 1

    def test_scoped_like_the_page(self, two_domains: TwoDomains) -> None:
        client = Client()
        client.force_login(two_domains.monitor.user)

        body = client.get("/admin/console/usage.json").json()

        assert "secret-project" not in body["month"]["starts"]
        assert "secret-project" not in body["month"]["slot_hours"].get("cpu", {})
        assert two_domains.world.project.name in body["month"]["starts"]

    def test_needs_a_console_login(self, two_domains: TwoDomains) -> None:
        response = Client().get("/admin/console/usage.json")
        assert response.status_code == 302

        plain = Client()
        plain.force_login(two_domains.world.user.user)
        assert plain.get("/admin/console/usage.json").status_code == 302


class TestDashboardQueries:
    def test_constant_number_of_queries(
        self, two_domains: TwoDomains, django_assert_max_num_queries: DjangoAssertNumQueries
    ) -> None:
        world = two_domains.world
        for n in range(5):  # more agents, sessions and ledger rows must not cost more queries
            add_agent(world.group, id=f"i-more-{n}")
            pending_in(
                domain=world.domain, project=world.project, group=world.group,
                name=f"more-{n}", position=n + 3,
            )  # fmt: skip
            ledger_row(
                project=world.project, domain=world.domain, group="default",
                at=timezone.now() - timedelta(days=n), cpu="1",
            )  # fmt: skip
        user = world.admin.user

        with django_assert_max_num_queries(12):
            dashboard = dashboard_for(user)

        assert len(dashboard.pending) == 7
        assert dashboard.agents is not None and len(dashboard.agents) >= 8


def test_dashboard_shows_warm_pool_fill(two_domains: TwoDomains) -> None:
    group = ResourceGroup.objects.order_by("pk").first()
    image = Image.objects.order_by("pk").first()
    assert group is not None and image is not None, "the fixture world has a group and an image"
    WarmPool.objects.create(resource_group=group, image=image, slots={"cpu": "1"}, target_size=3)
    rows = dashboard_for(two_domains.world.admin.user).warm_pools
    assert rows is not None and len(rows) == 1
    assert "0 of 3 ready" in str(rows[0])
