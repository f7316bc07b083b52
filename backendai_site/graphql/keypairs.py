"""Keypairs in the admin GraphQL: `keypair_list`, `create_keypair`, `modify_keypair`,
`delete_keypair` (docs/compat/graphql-admin.md). The caller's own `keypair` stays in schema.py."""

from __future__ import annotations

from typing import Any

import graphene
from django.db.models import Count, Prefetch, Q, QuerySet
from graphql import GraphQLError

from backendai_site.accounts.models import KeyPair, Project
from backendai_site.accounts.selectors import keypairs_visible_to, user_visible_get
from backendai_site.accounts.user_services import (
    keypair_admin_create,
    keypair_admin_delete,
    keypair_admin_modify,
    require_manager,
)
from backendai_site.common.errors import NotFound
from sessions_app.enums import SessionStatus

from .common import as_iso, caller, caller_keypair, input_values, mutation_guard, ordering, page
from .filters import apply_filter

KEYPAIR_ORDERABLE = frozenset(
    {"access_key", "created_at", "modified_at", "last_used", "is_active", "is_admin", "rate_limit"}
)
KEYPAIR_FILTERABLE = {
    "access_key": "access_key",
    "user_id": "user__email",
    "email": "user__email",
    "full_name": "user__full_name",
    "is_active": "is_active",
    "is_admin": "is_admin",
    "resource_policy": "resource_policy__name",
    "rate_limit": "rate_limit",
    "created_at": "created_at",
    "last_used": "last_used",
}


class KeyPairUserInfo(graphene.ObjectType):
    full_name = graphene.String()


class KeyPairItem(graphene.ObjectType):
    user_id = graphene.String()
    user_info = graphene.Field(KeyPairUserInfo)
    projects = graphene.List(graphene.String)
    access_key = graphene.String()
    secret_key = graphene.String(description="Only in create_keypair's answer: shown once.")
    is_active = graphene.Boolean()
    is_admin = graphene.Boolean()
    created_at = graphene.String()
    modified_at = graphene.String()
    last_used = graphene.String()
    resource_policy = graphene.String()
    rate_limit = graphene.Int()
    num_queries = graphene.Int()
    concurrency_used = graphene.Int()

    @staticmethod
    def from_keypair(keypair: KeyPair, *, secret_key: str | None = None) -> KeyPairItem:
        """Reads only what `_for_listing` fetched (user, policy, projects, live-session count)."""
        return KeyPairItem(
            user_id=keypair.user.email,
            user_info=KeyPairUserInfo(full_name=keypair.user.full_name),
            projects=[p.name for p in keypair.user.projects.all()],
            access_key=keypair.access_key,
            secret_key=secret_key,
            is_active=keypair.is_active,
            is_admin=keypair.is_admin,
            created_at=as_iso(keypair.created_at),
            modified_at=as_iso(keypair.modified_at),
            last_used=as_iso(keypair.last_used),
            resource_policy=keypair.resource_policy.name,
            rate_limit=keypair.rate_limit,
            num_queries=keypair.num_queries,
            concurrency_used=getattr(keypair, "live_sessions", 0),
        )


class KeyPairList(graphene.ObjectType):
    items = graphene.List(KeyPairItem)
    total_count = graphene.Int()


class KeyPairInput(graphene.InputObjectType):
    is_active = graphene.Boolean()
    is_admin = graphene.Boolean()
    resource_policy = graphene.String()
    rate_limit = graphene.Int()


class ModifyKeyPairInput(graphene.InputObjectType):
    is_active = graphene.Boolean()
    is_admin = graphene.Boolean()
    resource_policy = graphene.String()
    rate_limit = graphene.Int()


def _for_listing(qs: QuerySet[KeyPair]) -> QuerySet[KeyPair]:
    live = Q(sessions__status__in=SessionStatus.live())
    return (
        qs.select_related("user", "resource_policy")
        .prefetch_related(
            Prefetch("user__projects", queryset=Project.objects.order_by("name")),
        )
        .annotate(live_sessions=Count("sessions", filter=live))
    )


def _managed_keypair(info: graphene.ResolveInfo, access_key: str) -> KeyPair:
    actor = caller(info)
    require_manager(actor)
    keypair = (
        keypairs_visible_to(actor=actor)
        .select_related("user", "resource_policy")
        .filter(access_key=access_key)
        .first()
    )
    if keypair is None:
        raise NotFound(f"no keypair {access_key!r} visible to you")
    return keypair


class KeyPairQueries(graphene.ObjectType):
    keypair_list = graphene.Field(
        KeyPairList,
        limit=graphene.Int(required=True),
        offset=graphene.Int(required=True),
        email=graphene.String(),
        is_active=graphene.Boolean(),
        domain_name=graphene.String(),
        filter=graphene.String(),
        order=graphene.String(),
    )

    @staticmethod
    def resolve_keypair_list(
        root: None,
        info: graphene.ResolveInfo,
        limit: int,
        offset: int,
        email: str | None = None,
        is_active: bool | None = None,
        domain_name: str | None = None,
        filter: str | None = None,
        order: str | None = None,
    ) -> KeyPairList:
        qs = keypairs_visible_to(actor=caller(info))
        if email:
            qs = qs.filter(user__email__iexact=email)
        if is_active is not None:
            qs = qs.filter(is_active=is_active)
        if domain_name:
            qs = qs.filter(user__domain__name=domain_name)
        qs = apply_filter(qs, filter, KEYPAIR_FILTERABLE)
        qs = qs.order_by(*ordering(order, KEYPAIR_ORDERABLE, "created_at"), "access_key")
        keypairs, total = page(_for_listing(qs), limit, offset)
        return KeyPairList(items=[KeyPairItem.from_keypair(k) for k in keypairs], total_count=total)


class CreateKeyPair(graphene.Mutation):
    class Arguments:
        user_id = graphene.String(required=True)
        props = KeyPairInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()
    keypair = graphene.Field(KeyPairItem)

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, user_id: str, props: Any) -> CreateKeyPair:
        def run() -> KeyPairItem:
            actor = caller(info)
            require_manager(actor)
            values = input_values(props)
            issued = keypair_admin_create(
                actor=actor,
                user=user_visible_get(actor=actor, email=user_id),
                is_active=values.get("is_active") is not False,
                is_admin=bool(values.get("is_admin")),
                resource_policy=values.get("resource_policy"),
                rate_limit=values.get("rate_limit"),
            )
            fresh = _for_listing(KeyPair.objects.filter(pk=issued.keypair.pk)).get()
            return KeyPairItem.from_keypair(fresh, secret_key=issued.secret_key)

        item, error = mutation_guard(run)
        return CreateKeyPair(ok=item is not None, msg=error or "success", keypair=item)


class ModifyKeyPair(graphene.Mutation):
    class Arguments:
        access_key = graphene.String(required=True)
        props = ModifyKeyPairInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(
        root: None, info: graphene.ResolveInfo, access_key: str, props: Any
    ) -> ModifyKeyPair:
        values = input_values(props)
        if any(value is None for value in values.values()):
            raise GraphQLError("modify_keypair's fields cannot be null")

        def run() -> KeyPair:
            return keypair_admin_modify(
                actor=caller(info),
                keypair=_managed_keypair(info, access_key),
                changes=values,
                acting_access_key=caller_keypair(info).access_key,
            )

        done, error = mutation_guard(run)
        return ModifyKeyPair(ok=done is not None, msg=error or "success")


class DeleteKeyPair(graphene.Mutation):
    class Arguments:
        access_key = graphene.String(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, access_key: str) -> DeleteKeyPair:
        def run() -> bool:
            keypair_admin_delete(
                actor=caller(info),
                keypair=_managed_keypair(info, access_key),
                acting_access_key=caller_keypair(info).access_key,
            )
            return True

        done, error = mutation_guard(run)
        return DeleteKeyPair(ok=bool(done), msg=error or "success")


class KeyPairMutations(graphene.ObjectType):
    create_keypair = CreateKeyPair.Field()
    modify_keypair = ModifyKeyPair.Field()
    delete_keypair = DeleteKeyPair.Field()
