"""factory-boy factories for the agents app."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from agents_app.enums import AgentStatus, SlotType
from agents_app.models import (
    Agent,
    AgentResource,
    ContainerRegistry,
    Image,
    ImageAlias,
    ResourceGroup,
)


class ResourceGroupFactory(factory.django.DjangoModelFactory[ResourceGroup]):
    class Meta:
        model = ResourceGroup
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"rg{n}")


class AgentFactory(factory.django.DjangoModelFactory[Agent]):
    class Meta:
        model = Agent

    id = factory.Sequence(lambda n: f"i-agent{n}")
    status = AgentStatus.ALIVE
    resource_group = factory.SubFactory(ResourceGroupFactory)
    advertised_host = "127.0.0.1"
    boot_id = "boot-1"
    first_contact = factory.LazyFunction(timezone.now)
    last_heartbeat = factory.LazyFunction(timezone.now)
    status_changed = factory.LazyFunction(timezone.now)


class AgentResourceFactory(factory.django.DjangoModelFactory[AgentResource]):
    class Meta:
        model = AgentResource

    agent = factory.SubFactory(AgentFactory)
    slot_name = "cpu"
    slot_type = SlotType.COUNT
    capacity = Decimal(4)
    used = Decimal(0)


class ContainerRegistryFactory(factory.django.DjangoModelFactory[ContainerRegistry]):
    class Meta:
        model = ContainerRegistry
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"registry{n}.example.com")
    url = factory.LazyAttribute(lambda o: f"https://{o.name}")


class ImageFactory(factory.django.DjangoModelFactory[Image]):
    class Meta:
        model = Image

    name = factory.Sequence(lambda n: f"bai/image{n}")
    tag = "latest"
    labels = factory.LazyFunction(lambda: {"ai.backend.kernelspec": "1"})


class ImageAliasFactory(factory.django.DjangoModelFactory[ImageAlias]):
    class Meta:
        model = ImageAlias

    alias = factory.Sequence(lambda n: f"alias{n}")
    image = factory.SubFactory(ImageFactory)
