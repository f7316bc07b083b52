"""A small compute world: the default tenancy, a public resource group, agents and an image."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from agents_app.enums import SlotType
from agents_app.models import Agent, Image, ResourceGroup
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, Project
from backendai_site.accounts.services import keypair_issue, user_create
from tests.factories.agents import (
    AgentFactory,
    AgentResourceFactory,
)
from tests.helpers.credentials import Credentials

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
