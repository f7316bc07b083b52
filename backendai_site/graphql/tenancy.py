"""Domains and projects ("groups") in the admin GraphQL (docs/compat/graphql-admin.md)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import graphene
from django.db.models import QuerySet
from graphql import GraphQLError

from backendai_site.accounts.models import Domain, Project
from backendai_site.accounts.selectors import domains_visible_to, projects_visible_to
from backendai_site.accounts.tenancy_services import (
    domain_create,
    domain_deactivate,
    domain_modify,
    domain_purge,
    project_create,
    project_deactivate,
    project_manage_get,
    project_modify,
)
from sessions_app.services.owners import project_purge

from .common import as_iso, as_json, caller, input_values, mutation_guard


class DomainType(graphene.ObjectType):
    class Meta:
        name = "Domain"

    name = graphene.String()
    description = graphene.String()
    is_active = graphene.Boolean()
    created_at = graphene.String()
    modified_at = graphene.String()
    total_resource_slots = graphene.String()
    allowed_vfolder_hosts = graphene.String()
    allowed_docker_registries = graphene.List(graphene.String)
    integration_id = graphene.String()

    @staticmethod
    def from_domain(domain: Domain) -> DomainType:
        return DomainType(
            name=domain.name,
            description=domain.description,
            is_active=domain.is_active,
            created_at=as_iso(domain.created_at),
            modified_at=as_iso(domain.modified_at),
            total_resource_slots=as_json(domain.total_resource_slots or {}),
            allowed_vfolder_hosts=as_json(domain.allowed_vfolder_hosts or {}),
            allowed_docker_registries=list(domain.allowed_docker_registries or []),
            integration_id=None,
        )


class GroupType(graphene.ObjectType):
    class Meta:
        name = "Group"

    id = graphene.UUID()
    name = graphene.String()
    description = graphene.String()
    is_active = graphene.Boolean()
    created_at = graphene.String()
    modified_at = graphene.String()
    domain_name = graphene.String()
    total_resource_slots = graphene.String()
    allowed_vfolder_hosts = graphene.String()
    integration_id = graphene.String()
    resource_policy = graphene.String()

    @staticmethod
    def from_project(project: Project) -> GroupType:
        """Reads the domain and policy: select them with `_projects`."""
        return GroupType(
            id=project.pk,
            name=project.name,
            description=project.description,
            is_active=project.is_active,
            created_at=as_iso(project.created_at),
            modified_at=as_iso(project.modified_at),
            domain_name=project.domain.name,
            total_resource_slots=as_json(project.total_resource_slots or {}),
            allowed_vfolder_hosts=as_json(project.allowed_vfolder_hosts or {}),
            integration_id=None,
            resource_policy=project.resource_policy.name,
        )


def _projects(info: graphene.ResolveInfo) -> QuerySet[Project]:
    return projects_visible_to(actor=caller(info)).select_related("domain", "resource_policy")


class DomainInput(graphene.InputObjectType):
    description = graphene.String()
    is_active = graphene.Boolean()
    total_resource_slots = graphene.String()
    allowed_vfolder_hosts = graphene.String()
    allowed_docker_registries = graphene.List(graphene.String)
    integration_id = graphene.String()


class ModifyDomainInput(DomainInput):
    name = graphene.String()


class GroupInput(graphene.InputObjectType):
    description = graphene.String()
    is_active = graphene.Boolean()
    domain_name = graphene.String(required=True)
    total_resource_slots = graphene.String()
    allowed_vfolder_hosts = graphene.String()
    integration_id = graphene.String()
    resource_policy = graphene.String()


class ModifyGroupInput(graphene.InputObjectType):
    name = graphene.String()
    description = graphene.String()
    is_active = graphene.Boolean()
    domain_name = graphene.String()
    total_resource_slots = graphene.String()
    allowed_vfolder_hosts = graphene.String()
    integration_id = graphene.String()
    resource_policy = graphene.String()
    user_update_mode = graphene.String()
    user_uuids = graphene.List(graphene.String)


class TenancyQueries(graphene.ObjectType):
    domains = graphene.List(DomainType, is_active=graphene.Boolean())
    domain = graphene.Field(DomainType, name=graphene.String())
    groups = graphene.List(GroupType, domain_name=graphene.String(), is_active=graphene.Boolean())
    group = graphene.Field(GroupType, id=graphene.UUID(required=True))
    groups_by_name = graphene.List(
        GroupType, name=graphene.String(required=True), domain_name=graphene.String()
    )

    @staticmethod
    def resolve_domains(
        root: None, info: graphene.ResolveInfo, is_active: bool | None = None
    ) -> list[DomainType]:
        actor = caller(info)
        if actor.role == "user":
            raise GraphQLError("listing domains needs an admin or monitor role")
        qs = domains_visible_to(actor=actor).order_by("name")
        if is_active is not None:
            qs = qs.filter(is_active=is_active)
        return [DomainType.from_domain(d) for d in qs]

    @staticmethod
    def resolve_domain(
        root: None, info: graphene.ResolveInfo, name: str | None = None
    ) -> DomainType | None:
        actor = caller(info)
        qs = domains_visible_to(actor=actor)
        found = qs.filter(name=name).first() if name else qs.filter(pk=actor.domain_id).first()
        return DomainType.from_domain(found) if found else None

    @staticmethod
    def resolve_groups(
        root: None,
        info: graphene.ResolveInfo,
        domain_name: str | None = None,
        is_active: bool | None = None,
    ) -> list[GroupType]:
        qs = _projects(info)
        if domain_name:
            qs = qs.filter(domain__name=domain_name)
        if is_active is not None:
            qs = qs.filter(is_active=is_active)
        return [GroupType.from_project(p) for p in qs.order_by("domain__name", "name")]

    @staticmethod
    def resolve_group(root: None, info: graphene.ResolveInfo, id: UUID) -> GroupType | None:
        found = _projects(info).filter(pk=id).first()
        return GroupType.from_project(found) if found else None

    @staticmethod
    def resolve_groups_by_name(
        root: None, info: graphene.ResolveInfo, name: str, domain_name: str | None = None
    ) -> list[GroupType]:
        qs = _projects(info).filter(name=name)
        if domain_name:
            qs = qs.filter(domain__name=domain_name)
        return [GroupType.from_project(p) for p in qs.order_by("domain__name")]


class CreateDomain(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)
        props = DomainInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()
    domain = graphene.Field(DomainType)

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, name: str, props: Any) -> CreateDomain:
        created, error = mutation_guard(
            lambda: domain_create(actor=caller(info), name=name, changes=input_values(props))
        )
        domain = DomainType.from_domain(created) if created else None
        return CreateDomain(ok=created is not None, msg=error or "success", domain=domain)


class ModifyDomain(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)
        props = ModifyDomainInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, name: str, props: Any) -> ModifyDomain:
        done, error = mutation_guard(
            lambda: domain_modify(actor=caller(info), name=name, changes=input_values(props))
        )
        return ModifyDomain(ok=done is not None, msg=error or "success")


class DeleteDomain(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, name: str) -> DeleteDomain:
        def run() -> bool:
            domain_deactivate(actor=caller(info), name=name)
            return True

        done, error = mutation_guard(run)
        return DeleteDomain(ok=bool(done), msg=error or "success")


class PurgeDomain(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, name: str) -> PurgeDomain:
        def run() -> bool:
            domain_purge(actor=caller(info), name=name)
            return True

        done, error = mutation_guard(run)
        return PurgeDomain(ok=bool(done), msg=error or "success")


class CreateGroup(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)
        props = GroupInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()
    group = graphene.Field(GroupType)

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, name: str, props: Any) -> CreateGroup:
        created, error = mutation_guard(
            lambda: project_create(actor=caller(info), name=name, changes=input_values(props))
        )
        group = GroupType.from_project(created) if created else None
        return CreateGroup(ok=created is not None, msg=error or "success", group=group)


class ModifyGroup(graphene.Mutation):
    class Arguments:
        gid = graphene.UUID(required=True)
        props = ModifyGroupInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, gid: UUID, props: Any) -> ModifyGroup:
        def run() -> Project:
            actor = caller(info)
            project = project_manage_get(actor=actor, project_id=gid)
            return project_modify(actor=actor, project=project, changes=input_values(props))

        done, error = mutation_guard(run)
        return ModifyGroup(ok=done is not None, msg=error or "success")


class DeleteGroup(graphene.Mutation):
    class Arguments:
        gid = graphene.UUID(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, gid: UUID) -> DeleteGroup:
        def run() -> bool:
            actor = caller(info)
            project_deactivate(actor=actor, project=project_manage_get(actor=actor, project_id=gid))
            return True

        done, error = mutation_guard(run)
        return DeleteGroup(ok=bool(done), msg=error or "success")


class PurgeGroup(graphene.Mutation):
    class Arguments:
        gid = graphene.UUID(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, gid: UUID) -> PurgeGroup:
        def run() -> bool:
            actor = caller(info)
            project_purge(actor=actor, project=project_manage_get(actor=actor, project_id=gid))
            return True

        done, error = mutation_guard(run)
        return PurgeGroup(ok=bool(done), msg=error or "success")


class TenancyMutations(graphene.ObjectType):
    create_domain = CreateDomain.Field()
    modify_domain = ModifyDomain.Field()
    delete_domain = DeleteDomain.Field()
    purge_domain = PurgeDomain.Field()
    create_group = CreateGroup.Field()
    modify_group = ModifyGroup.Field()
    delete_group = DeleteGroup.Field()
    purge_group = PurgeGroup.Field()
