"""Agents and resource groups ("scaling groups") in the admin GraphQL: `agent_list`, `agent`,
`scaling_groups`, `scaling_group`, `create_/modify_/delete_scaling_group`,
`associate_/disassociate_scaling_group_with_domain` (docs/compat/graphql-admin.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import graphene
from graphql import GraphQLError

from agents_app.models import Agent, ResourceGroup
from agents_app.services.resource_groups import (
    resource_group_associate_domain,
    resource_group_create,
    resource_group_delete,
    resource_group_modify,
    resource_groups_visible_to,
)
from backendai_site.accounts.enums import UserRole

from .common import (
    as_iso,
    as_json,
    caller,
    input_values,
    mutation_guard,
    ordering,
    page,
    query_guard,
)
from .filters import apply_filter

AGENT_ORDERABLE = frozenset({"id", "status", "first_contact", "architecture", "status_changed"})
AGENT_FILTERABLE = {
    "id": "id",
    "status": "status",
    "scaling_group": "resource_group__name",
    "architecture": "architecture",
    "schedulable": "schedulable",
    "addr": "advertised_host",
    "first_contact": "first_contact",
    "version": "version",
}


def _slots(agent: Agent, attr: str) -> str | None:
    """A slot map as JSON text with decimal strings (reads the prefetched `resources`)."""
    values: dict[str, str] = {}
    for resource in agent.resources.all():
        amount: Decimal = getattr(resource, attr)
        values[resource.slot_name] = format(amount.normalize(), "f")
    return as_json(values)


class AgentType(graphene.ObjectType):
    class Meta:
        name = "Agent"

    id = graphene.ID()
    status = graphene.String()
    status_changed = graphene.String()
    region = graphene.String()
    architecture = graphene.String()
    scaling_group = graphene.String()
    schedulable = graphene.Boolean()
    available_slots = graphene.String()
    occupied_slots = graphene.String()
    addr = graphene.String()
    first_contact = graphene.String()
    lost_at = graphene.String()
    live_stat = graphene.String(description="Not collected: always null.")
    version = graphene.String()
    compute_plugins = graphene.String()
    hardware_metadata = graphene.String(description="Not collected: always null.")
    local_config = graphene.String(description="Not exposed: always null.")
    cpu_cur_pct = graphene.Float(description="Not collected: always null.")
    mem_cur_bytes = graphene.Float(description="Not collected: always null.")

    @staticmethod
    def from_agent(agent: Agent) -> AgentType:
        return AgentType(
            id=agent.id,
            status=agent.status,
            status_changed=as_iso(agent.status_changed),
            region=None,
            architecture=agent.architecture,
            scaling_group=agent.resource_group.name,
            schedulable=agent.schedulable,
            available_slots=_slots(agent, "capacity"),
            occupied_slots=_slots(agent, "used"),
            addr=agent.advertised_host,
            first_contact=as_iso(agent.first_contact),
            lost_at=as_iso(agent.lost_at),
            version=agent.version,
            compute_plugins=as_json(agent.compute_plugins or {}),
        )


class AgentList(graphene.ObjectType):
    items = graphene.List(AgentType)
    total_count = graphene.Int()


class ScalingGroupType(graphene.ObjectType):
    class Meta:
        name = "ScalingGroup"

    name = graphene.String()
    description = graphene.String()
    is_active = graphene.Boolean()
    is_public = graphene.Boolean()
    created_at = graphene.String()
    driver = graphene.String()
    driver_opts = graphene.String()
    scheduler = graphene.String()
    scheduler_opts = graphene.String()
    use_host_network = graphene.Boolean()
    wsproxy_addr = graphene.String()
    wsproxy_api_token = graphene.String()

    @staticmethod
    def from_group(group: ResourceGroup) -> ScalingGroupType:
        return ScalingGroupType(
            name=group.name,
            description=group.description,
            is_active=group.is_active,
            is_public=group.is_public,
            created_at=as_iso(group.created_at),
            driver="static",
            driver_opts=as_json({}),
            scheduler=group.scheduler,
            scheduler_opts=as_json(group.scheduler_opts or {}),
            use_host_network=False,
            wsproxy_addr=None,
            wsproxy_api_token=None,
        )


def _agents_reader(info: graphene.ResolveInfo) -> None:
    if caller(info).role not in (UserRole.SUPERADMIN, UserRole.MONITOR):
        raise GraphQLError("reading agents needs a superadmin or monitor role")


def _agents() -> Any:
    return Agent.objects.select_related("resource_group").prefetch_related("resources")


class AgentQueries(graphene.ObjectType):
    agent_list = graphene.Field(
        AgentList,
        limit=graphene.Int(required=True),
        offset=graphene.Int(required=True),
        status=graphene.String(),
        scaling_group=graphene.String(),
        filter=graphene.String(),
        order=graphene.String(),
    )
    agent = graphene.Field(AgentType, agent_id=graphene.String(required=True))
    scaling_groups = graphene.List(ScalingGroupType, is_active=graphene.Boolean())
    scaling_group = graphene.Field(ScalingGroupType, name=graphene.String())

    @staticmethod
    def resolve_agent_list(
        root: None,
        info: graphene.ResolveInfo,
        limit: int,
        offset: int,
        status: str | None = None,
        scaling_group: str | None = None,
        filter: str | None = None,
        order: str | None = None,
    ) -> AgentList:
        _agents_reader(info)
        qs = _agents()
        if status:
            qs = qs.filter(status__in=[s.strip().upper() for s in status.split(",")])
        if scaling_group:
            qs = qs.filter(resource_group__name=scaling_group)
        qs = apply_filter(qs, filter, AGENT_FILTERABLE)
        agents, total = page(qs.order_by(*ordering(order, AGENT_ORDERABLE, "id")), limit, offset)
        return AgentList(items=[AgentType.from_agent(a) for a in agents], total_count=total)

    @staticmethod
    def resolve_agent(root: None, info: graphene.ResolveInfo, agent_id: str) -> AgentType | None:
        _agents_reader(info)
        found = _agents().filter(pk=agent_id).first()
        return AgentType.from_agent(found) if found else None

    @staticmethod
    def resolve_scaling_groups(
        root: None, info: graphene.ResolveInfo, is_active: bool | None = None
    ) -> list[ScalingGroupType]:
        qs = query_guard(lambda: resource_groups_visible_to(actor=caller(info)))
        if is_active is not None:
            qs = qs.filter(is_active=is_active)
        return [ScalingGroupType.from_group(g) for g in qs.order_by("name")]

    @staticmethod
    def resolve_scaling_group(
        root: None, info: graphene.ResolveInfo, name: str | None = None
    ) -> ScalingGroupType | None:
        qs = query_guard(lambda: resource_groups_visible_to(actor=caller(info)))
        found = qs.filter(name=name).first()
        return ScalingGroupType.from_group(found) if found else None


class ScalingGroupInput(graphene.InputObjectType):
    description = graphene.String()
    is_active = graphene.Boolean()
    is_public = graphene.Boolean()
    driver = graphene.String()
    driver_opts = graphene.String()
    scheduler = graphene.String()
    scheduler_opts = graphene.String()
    use_host_network = graphene.Boolean()
    wsproxy_addr = graphene.String()
    wsproxy_api_token = graphene.String()


class CreateScalingGroupInput(ScalingGroupInput):
    pass


class ModifyScalingGroupInput(ScalingGroupInput):
    pass


class CreateScalingGroup(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)
        props = CreateScalingGroupInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()
    scaling_group = graphene.Field(ScalingGroupType)

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, name: str, props: Any) -> Any:
        created, error = mutation_guard(
            lambda: resource_group_create(
                actor=caller(info), name=name, changes=input_values(props)
            )
        )
        group = ScalingGroupType.from_group(created) if created else None
        return CreateScalingGroup(
            ok=created is not None, msg=error or "success", scaling_group=group
        )


class ModifyScalingGroup(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)
        props = ModifyScalingGroupInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, name: str, props: Any) -> Any:
        done, error = mutation_guard(
            lambda: resource_group_modify(
                actor=caller(info), name=name, changes=input_values(props)
            )
        )
        return ModifyScalingGroup(ok=done is not None, msg=error or "success")


class DeleteScalingGroup(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, name: str) -> Any:
        def run() -> bool:
            resource_group_delete(actor=caller(info), name=name)
            return True

        done, error = mutation_guard(run)
        return DeleteScalingGroup(ok=bool(done), msg=error or "success")


def _association(associate: bool) -> type[graphene.Mutation]:
    class Arguments:
        scaling_group = graphene.String(required=True)
        domain = graphene.String(required=True)

    def mutate(root: None, info: graphene.ResolveInfo, scaling_group: str, domain: str) -> Any:
        def run() -> bool:
            resource_group_associate_domain(
                actor=caller(info), name=scaling_group, domain_name=domain, associate=associate
            )
            return True

        done, error = mutation_guard(run)
        return mutation(ok=bool(done), msg=error or "success")

    verb = "Associate" if associate else "Disassociate"
    mutation: type[graphene.Mutation] = type(
        f"{verb}ScalingGroupWithDomain",
        (graphene.Mutation,),
        {"Arguments": Arguments, "ok": graphene.Boolean(), "msg": graphene.String(),
         "mutate": staticmethod(mutate)},
    )  # fmt: skip
    return mutation


class AgentMutations(graphene.ObjectType):
    create_scaling_group = CreateScalingGroup.Field()
    modify_scaling_group = ModifyScalingGroup.Field()
    delete_scaling_group = DeleteScalingGroup.Field()
    associate_scaling_group_with_domain = _association(True).Field()
    disassociate_scaling_group_with_domain = _association(False).Field()
