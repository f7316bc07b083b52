"""Session extras of the admin GraphQL: the `ps --filter` whitelist and `modify_compute_session`
(`session set-priority`). The session types and queries stay in schema.py."""

from __future__ import annotations

from typing import Any

import graphene
from graphql import GraphQLError

from sessions_app.errors import SessionNotFound
from sessions_app.services.priority import session_set_priority

from .common import caller_keypair, mutation_guard

# `--filter` field -> ORM path, applied inside sessions_for(caller, VIEW)
SESSION_FILTERABLE = {
    "id": "id",
    "name": "name",
    "session_name": "name",
    "tag": "tag",
    "type": "session_type",
    "session_type": "session_type",
    "status": "status",
    "status_info": "status_info",
    "priority": "priority",
    "image": "image__name",
    "architecture": "image__architecture",
    "domain_name": "domain__name",
    "group_name": "project__name",
    "project_name": "project__name",
    "user_email": "user__email",
    "access_key": "access_key_id",
    "scaling_group": "resource_group__name",
    "cluster_mode": "cluster_mode",
    "cluster_size": "cluster_size",
    "created_at": "created_at",
    "terminated_at": "terminated_at",
    "starts_at": "starts_at",
    "result": "result",
}


class ModifyComputeSessionInput(graphene.InputObjectType):
    id = graphene.String(required=True)
    name = graphene.String()
    priority = graphene.Int()
    client_mutation_id = graphene.String(name="clientMutationId")


class ModifiedComputeSession(graphene.ObjectType):
    id = graphene.UUID()
    name = graphene.String()
    priority = graphene.Int()


class ModifyComputeSession(graphene.Mutation):
    class Arguments:
        input = ModifyComputeSessionInput(required=True)

    item = graphene.Field(ModifiedComputeSession)
    client_mutation_id = graphene.String(name="clientMutationId")

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, input: Any) -> ModifyComputeSession:
        if input.get("name") is not None:
            raise GraphQLError("renaming a session is not supported; only priority changes")
        if input.get("priority") is None:
            raise GraphQLError("nothing to change: give a priority")
        requester = caller_keypair(info)

        def run() -> ModifiedComputeSession:
            try:
                changed = session_set_priority(
                    requester=requester, ref=str(input["id"]), priority=input["priority"]
                )
            except SessionNotFound as exc:
                raise GraphQLError(f"no session {input['id']!r} visible to you") from exc
            return ModifiedComputeSession(
                id=changed.pk, name=changed.name, priority=changed.priority
            )

        item, error = mutation_guard(run)
        if item is None:
            raise GraphQLError(error or "the session was not changed")
        return ModifyComputeSession(item=item, client_mutation_id=input.get("client_mutation_id"))


class SessionMutations(graphene.ObjectType):
    modify_compute_session = ModifyComputeSession.Field()
