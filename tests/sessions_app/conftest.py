"""A small compute world: the default tenancy, a public resource group, agents and an image."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from agents_app.enums import SlotType
from agents_app.models import Agent, Image, ResourceGroup
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, Project
from backendai_site.accounts.services import default_tenancy_ensure, keypair_issue, user_create
from tests.conftest import Credentials
from tests.factories.agents import (
    AgentFactory,
    AgentResourceFactory,
    ImageAliasFactory,
    ImageFactory,
    ResourceGroupFactory,
)

GIB = 1024**3


@dataclass
class ComputeWorld:
    domain: Domain
    project: Project
    group: ResourceGroup
    agent: Agent
    image: Image
    user: Credentials
    admin: Credentials


def add_agent(group: ResourceGroup, *, cpu: int = 4, mem_gib: int = 8, **fields: object) -> Agent:
    agent = AgentFactory.create(resource_group=group, **fields)
    AgentResourceFactory.create(agent=agent, slot_name="cpu", capacity=Decimal(cpu))
    AgentResourceFactory.create(
        agent=agent, slot_name="mem", slot_type=SlotType.BYTES, capacity=Decimal(mem_gib * GIB)
    )
    return agent


def make_member(world_project: Project, email: str, role: UserRole = UserRole.USER) -> Credentials:
    user = user_create(
        email=email, password="pw-123456", domain=world_project.domain, role=role,
        projects=[world_project],
    )  # fmt: skip
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


@pytest.fixture
def world(db: None) -> ComputeWorld:
    defaults = default_tenancy_ensure()
    group = ResourceGroupFactory.create(name="default", is_public=True)
    agent = add_agent(group)
    image = ImageFactory.create(
        name="bai/python",
        tag="3.11",
        min_resources={"cpu": "1", "mem": str(64 * 1024**2)},
        service_ports=[{"name": "http", "protocol": "http", "container_ports": [8080]}],
    )
    ImageAliasFactory.create(alias="python", image=image)
    return ComputeWorld(
        domain=defaults.domain,
        project=defaults.project,
        group=group,
        agent=agent,
        image=image,
        user=make_member(defaults.project, "user@example.com"),
        admin=make_member(defaults.project, "admin@example.com", UserRole.SUPERADMIN),
    )
