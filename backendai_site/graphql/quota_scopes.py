"""Quota scopes in the admin GraphQL (`admin quota-scope get/set/unset`): the `quota_scope` query
and the `set_quota_scope` / `unset_quota_scope` mutations, shaped as the 26.9.6 client reads them
(docs/compat/quota-scope.md). Glue only: storage_app's quota scope services decide. Like the
reference, every refusal (a bad id, a scope the caller may not see, a role that may not change
it) is a GraphQL error, so the CLI prints it and exits non-zero."""

from __future__ import annotations

from typing import Any

import graphene

from storage_app.services.quota_scopes import (
    QuotaScopeState,
    quota_scope_get,
    quota_scope_set,
    quota_scope_unset,
)

from .common import caller, query_guard


class QuotaDetails(graphene.ObjectType):
    usage_bytes = graphene.BigInt()
    usage_count = graphene.BigInt()
    hard_limit_bytes = graphene.BigInt()


class QuotaScope(graphene.ObjectType):
    id = graphene.ID(required=True)
    quota_scope_id = graphene.String(required=True)
    storage_host_name = graphene.String(required=True)
    details = graphene.NonNull(QuotaDetails)

    @staticmethod
    def of(state: QuotaScopeState) -> QuotaScope:
        return QuotaScope(
            id=f"QuotaScope:{state.volume.name}/{state.quota_scope_id}",
            quota_scope_id=state.quota_scope_id,
            storage_host_name=state.volume.name,
            details=QuotaDetails(
                usage_bytes=state.usage_bytes,
                usage_count=state.usage_count,
                hard_limit_bytes=state.hard_limit_bytes,
            ),
        )


class QuotaScopeInput(graphene.InputObjectType):
    hard_limit_bytes = graphene.BigInt()


class QuotaScopeQueries(graphene.ObjectType):
    quota_scope = graphene.Field(
        QuotaScope,
        storage_host_name=graphene.String(required=True),
        quota_scope_id=graphene.String(required=True),
    )

    @staticmethod
    def resolve_quota_scope(
        root: None, info: graphene.ResolveInfo, storage_host_name: str, quota_scope_id: str
    ) -> QuotaScope:
        state = query_guard(
            lambda: quota_scope_get(
                actor=caller(info), host=storage_host_name, quota_scope_id=quota_scope_id
            )
        )
        return QuotaScope.of(state)


class SetQuotaScope(graphene.Mutation):
    class Arguments:
        quota_scope_id = graphene.String(required=True)
        storage_host_name = graphene.String(required=True)
        props = QuotaScopeInput(required=True)

    quota_scope = graphene.Field(QuotaScope)

    @staticmethod
    def mutate(
        root: None,
        info: graphene.ResolveInfo,
        quota_scope_id: str,
        storage_host_name: str,
        props: Any,
    ) -> SetQuotaScope:
        state = query_guard(
            lambda: quota_scope_set(
                actor=caller(info),
                host=storage_host_name,
                quota_scope_id=quota_scope_id,
                hard_limit_bytes=props.get("hard_limit_bytes"),
            )
        )
        return SetQuotaScope(quota_scope=QuotaScope.of(state))


class UnsetQuotaScope(graphene.Mutation):
    class Arguments:
        quota_scope_id = graphene.String(required=True)
        storage_host_name = graphene.String(required=True)

    quota_scope = graphene.Field(QuotaScope)

    @staticmethod
    def mutate(
        root: None, info: graphene.ResolveInfo, quota_scope_id: str, storage_host_name: str
    ) -> UnsetQuotaScope:
        state = query_guard(
            lambda: quota_scope_unset(
                actor=caller(info), host=storage_host_name, quota_scope_id=quota_scope_id
            )
        )
        return UnsetQuotaScope(quota_scope=QuotaScope.of(state))


class QuotaScopeMutations(graphene.ObjectType):
    set_quota_scope = SetQuotaScope.Field()
    unset_quota_scope = UnsetQuotaScope.Field()
