"""Reads of the agents app."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from backendai_site.common.resource_slot import ResourceSlot

from .enums import AgentStatus
from .imageref import split_image_ref
from .models import Agent, AgentResource, Image, ImageAlias


def agent_capacity(*, agent: Agent) -> ResourceSlot:
    """Capacity per slot (uses prefetched `resources` when present)."""
    return ResourceSlot((row.slot_name, row.capacity) for row in agent.resources.all())


def agent_used(*, agent: Agent) -> ResourceSlot:
    return ResourceSlot((row.slot_name, row.used) for row in agent.resources.all())


def agent_available(*, agent: Agent) -> ResourceSlot:
    return ResourceSlot((row.slot_name, row.capacity - row.used) for row in agent.resources.all())


def agents_with_resources() -> QuerySet[Agent]:
    """Agents with their resource group and capacity rows in two queries."""
    return Agent.objects.select_related("resource_group").prefetch_related(
        Prefetch("resources", queryset=AgentResource.objects.order_by("slot_name"))
    )


def agents_schedulable(*, resource_group_name: str) -> QuerySet[Agent]:
    """Agents the scheduler may place kernels on in one resource group."""
    return agents_with_resources().filter(
        resource_group__name=resource_group_name,
        status__in=AgentStatus.available_statuses(),
        schedulable=True,
    )


def agent_slot_usage(*, agent: Agent) -> list[tuple[str, Decimal, Decimal]]:
    """(slot name, used, capacity) rows, sorted by slot name."""
    return [(row.slot_name, row.used, row.capacity) for row in agent.resources.all()]


def image_resolve(*, ref_or_alias: str, architecture: str = "x86_64") -> Image | None:
    """The catalog image named by an alias or a canonical ref ("name:tag" or "host/name:tag")."""
    alias = (
        ImageAlias.objects.select_related("image", "image__registry")
        .filter(alias=ref_or_alias)
        .first()
    )
    if alias is not None:
        return alias.image
    host, name, tag = split_image_ref(ref_or_alias)
    images = Image.objects.select_related("registry").filter(
        name=name, tag=tag, architecture=architecture
    )
    if host:
        return images.filter(registry__name=host).first() or (
            Image.objects.filter(
                registry=None, name=f"{host}/{name}", tag=tag, architecture=architecture
            ).first()
        )
    return images.filter(registry=None).first()
