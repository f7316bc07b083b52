"""Domains and projects ("groups") in the admin GraphQL (docs/compat/graphql-admin.md)."""

from __future__ import annotations

import graphene

from backendai_site.accounts.models import Project
from backendai_site.accounts.selectors import projects_visible_to

from .common import as_iso, as_json, caller


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


class TenancyQueries(graphene.ObjectType):
    groups_by_name = graphene.List(
        GroupType, name=graphene.String(required=True), domain_name=graphene.String()
    )

    @staticmethod
    def resolve_groups_by_name(
        root: None, info: graphene.ResolveInfo, name: str, domain_name: str | None = None
    ) -> list[GroupType]:
        qs = projects_visible_to(actor=caller(info)).filter(name=name)
        if domain_name:
            qs = qs.filter(domain__name=domain_name)
        qs = qs.select_related("domain", "resource_policy").order_by("domain__name")
        return [GroupType.from_project(p) for p in qs]
