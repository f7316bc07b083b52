"""factory-boy factories for the sessions app, and small helpers to build a scheduling world."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import factory

from agents_app.enums import SlotType
from agents_app.models import Agent, ResourceGroup
from backendai_site.accounts.enums import DefaultForUnspecified
from backendai_site.accounts.models import KeyPair, KeypairResourcePolicy
from sessions_app.enums import ClusterMode, KernelRole, SessionStatus
from sessions_app.models import Kernel, Session, SessionDependency
from tests.factories.accounts import (
    DomainFactory,
    KeypairResourcePolicyFactory,
    ProjectFactory,
    UserFactory,
)
from tests.factories.agents import (
    AgentFactory,
    AgentResourceFactory,
    ImageFactory,
    ResourceGroupFactory,
)

GIB = 1024**3


class UnlimitedPolicyFactory(KeypairResourcePolicyFactory):
    name = "scheduler-unlimited"
    default_for_unspecified = DefaultForUnspecified.UNLIMITED
    max_concurrent_sessions = 1000


class KeyPairFactory(factory.django.DjangoModelFactory[KeyPair]):
    class Meta:
        model = KeyPair

    access_key = factory.Sequence(lambda n: f"AKTEST{n:014d}")
    secret_key_encrypted = "not-a-real-secret"
    user = factory.SubFactory(UserFactory)
    resource_policy = factory.SubFactory(UnlimitedPolicyFactory)


class SessionFactory(factory.django.DjangoModelFactory[Session]):
    """A PENDING session with `cluster_size` kernels, each requesting `requested_slots`."""

    class Meta:
        model = Session
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"sess{n}")
    domain = factory.SubFactory(DomainFactory)
    user = factory.SubFactory(UserFactory, domain=factory.SelfAttribute("..domain"))
    project = factory.SubFactory(ProjectFactory, domain=factory.SelfAttribute("..domain"))
    access_key = factory.SubFactory(KeyPairFactory, user=factory.SelfAttribute("..user"))
    resource_group = factory.SubFactory(ResourceGroupFactory)
    image = factory.SubFactory(ImageFactory)
    image_ref = factory.LazyAttribute(lambda o: o.image.name)
    status = SessionStatus.PENDING
    requested_slots = factory.LazyFunction(lambda: {"cpu": "1", "mem": str(GIB)})
    cluster_mode = ClusterMode.SINGLE_NODE
    cluster_size = 1

    @factory.post_generation
    def kernels(obj: Session, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        Kernel.objects.bulk_create(
            Kernel(
                session=obj,
                cluster_role=KernelRole.MAIN if idx == 1 else KernelRole.SUB,
                cluster_idx=idx,
                cluster_hostname=f"main{idx}" if idx == 1 else f"sub{idx - 1}",
                requested_slots=dict(obj.requested_slots),
            )
            for idx in range(1, obj.cluster_size + 1)
        )

    @factory.post_generation
    def created(obj: Session, create: bool, extracted: datetime | None, **kwargs: Any) -> None:
        """`created=<datetime>` overrides auto_now_add (for order-sensitive tests)."""
        if create and extracted is not None:
            Session.objects.filter(pk=obj.pk).update(created_at=extracted)
            obj.created_at = extracted


def key_pair_create(**fields: Any) -> KeyPair:
    return cast(KeyPair, KeyPairFactory(**fields))


def session_dependency_create(*, session: Session, depends_on: Session) -> SessionDependency:
    return cast(SessionDependency, SessionDependencyFactory(session=session, depends_on=depends_on))


class SessionDependencyFactory(factory.django.DjangoModelFactory[SessionDependency]):
    class Meta:
        model = SessionDependency

    session = factory.SubFactory(SessionFactory)
    depends_on = factory.SubFactory(SessionFactory)


def agent_with_capacity(
    group: ResourceGroup,
    *,
    cpu: int | str = 4,
    mem: int = 8 * GIB,
    extra: dict[str, int | str] | None = None,
    **fields: Any,
) -> Agent:
    """An ALIVE agent of `group` with cpu/mem (and `extra`) capacity rows, nothing used."""
    agent = cast(Agent, AgentFactory(resource_group=group, **fields))
    AgentResourceFactory(agent=agent, slot_name="cpu", capacity=Decimal(cpu))
    AgentResourceFactory(
        agent=agent, slot_name="mem", slot_type=SlotType.BYTES, capacity=Decimal(mem)
    )
    for slot, amount in (extra or {}).items():
        AgentResourceFactory(agent=agent, slot_name=slot, capacity=Decimal(amount))
    return agent


def owner_session_kwargs(keypair: KeyPair) -> dict[str, Any]:
    """Factory kwargs that make a session belong to `keypair`'s user, domain and a project."""
    user = keypair.user
    return {"access_key": keypair, "user": user, "domain": user.domain}


def limited_policy(name: str, **fields: Any) -> KeypairResourcePolicy:
    return cast(KeypairResourcePolicy, KeypairResourcePolicyFactory(name=name, **fields))
