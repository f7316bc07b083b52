"""Keypair, user and project resource policies in the admin GraphQL: `*_resource_policy(name)`,
`*_resource_policies`, `create_/modify_/delete_*_resource_policy` (docs/compat/graphql-admin.md).
The three families share one shape, so they are built from a table."""

from __future__ import annotations

from typing import Any

import graphene
from django.db import models

from backendai_site.accounts.models import (
    KeypairResourcePolicy,
    ProjectResourcePolicy,
    UserResourcePolicy,
)
from backendai_site.accounts.policy_services import (
    Policy,
    policies_visible_to,
    policy_create,
    policy_delete,
    policy_modify,
)

from .common import as_iso, as_json, caller, caller_keypair, input_values, mutation_guard

JSON_FIELDS = frozenset(
    {"total_resource_slots", "allowed_vfolder_hosts", "max_pending_session_resource_slots"}
)
FIELDS: dict[str, dict[str, type[graphene.Scalar]]] = {
    "keypair": {
        "default_for_unspecified": graphene.String,
        "total_resource_slots": graphene.String,
        "max_session_lifetime": graphene.Int,
        "max_concurrent_sessions": graphene.Int,
        "max_concurrent_sftp_sessions": graphene.Int,
        "max_containers_per_session": graphene.Int,
        "idle_timeout": graphene.Int,
        "allowed_vfolder_hosts": graphene.String,
        "max_pending_session_count": graphene.Int,
        "max_pending_session_resource_slots": graphene.String,
    },
    "user": {
        "total_resource_slots": graphene.String,
        "max_vfolder_count": graphene.Int,
        "max_quota_scope_size": graphene.BigInt,
        "max_session_count_per_model_session": graphene.Int,
        "max_customized_image_count": graphene.Int,
    },
    "project": {
        "max_vfolder_count": graphene.Int,
        "max_quota_scope_size": graphene.BigInt,
        "max_network_count": graphene.Int,
    },
}
MODELS: dict[str, type[Policy]] = {
    "keypair": KeypairResourcePolicy,
    "user": UserResourcePolicy,
    "project": ProjectResourcePolicy,
}
TYPE_NAMES = {"keypair": "KeyPair", "user": "User", "project": "Project"}


def _output(kind: str, policy: models.Model) -> dict[str, Any]:
    values: dict[str, Any] = {"name": policy.name, "created_at": as_iso(policy.created_at)}  # type: ignore[attr-defined]
    for name in FIELDS[kind]:
        value = getattr(policy, name)
        values[name] = as_json(value) if name in JSON_FIELDS else value
    return values


def _build(kind: str) -> tuple[type[graphene.ObjectType], type[graphene.ObjectType]]:
    """The object type, its queries and its mutations for one family of policies."""
    model = MODELS[kind]
    prefix = TYPE_NAMES[kind]
    scalars = FIELDS[kind]
    policy_type = type(
        f"{prefix}ResourcePolicy",
        (graphene.ObjectType,),
        {"name": graphene.String(), "created_at": graphene.String()}
        | {name: scalar() for name, scalar in scalars.items()},
    )
    inputs = {
        verb: type(
            f"{verb}{prefix}ResourcePolicyInput",
            (graphene.InputObjectType,),
            {name: scalar() for name, scalar in scalars.items()},
        )
        for verb in ("Create", "Modify")
    }

    def one(root: None, info: graphene.ResolveInfo, name: str | None = None) -> Any:
        actor = caller(info)
        if name is None:
            name = _own_policy_name(kind, info)
        found = policies_visible_to(actor=actor, model=model).filter(name=name).first()
        return policy_type(**_output(kind, found)) if found else None

    def every(root: None, info: graphene.ResolveInfo) -> list[Any]:
        actor = caller(info)
        visible = policies_visible_to(actor=actor, model=model)
        return [policy_type(**_output(kind, p)) for p in visible.order_by("name")]

    queries = type(
        f"{prefix}PolicyQueries",
        (graphene.ObjectType,),
        {
            f"{kind}_resource_policy": graphene.Field(
                policy_type, name=graphene.String(), resolver=one
            ),
            f"{kind}_resource_policies": graphene.List(policy_type, resolver=every),
        },
    )

    def answer(policy: Policy | None, error: str | None) -> dict[str, Any]:
        return {
            "ok": policy is not None,
            "msg": error or "success",
            "resource_policy": policy_type(**_output(kind, policy)) if policy else None,
        }

    def create(root: None, info: graphene.ResolveInfo, name: str, props: Any) -> Any:
        done, error = mutation_guard(
            lambda: policy_create(
                actor=caller(info), model=model, name=name, values=input_values(props)
            )
        )
        return mutation_types["create"](**answer(done, error))

    def modify(root: None, info: graphene.ResolveInfo, name: str, props: Any) -> Any:
        done, error = mutation_guard(
            lambda: policy_modify(
                actor=caller(info), model=model, name=name, values=input_values(props)
            )
        )
        return mutation_types["modify"](ok=done is not None, msg=error or "success")

    def delete(root: None, info: graphene.ResolveInfo, name: str) -> Any:
        def run() -> bool:
            policy_delete(actor=caller(info), model=model, name=name)
            return True

        done, error = mutation_guard(run)
        return mutation_types["delete"](ok=bool(done), msg=error or "success")

    result = {"ok": graphene.Boolean(), "msg": graphene.String()}
    mutation_types: dict[str, type[graphene.ObjectType]] = {
        "create": type(
            f"Create{prefix}ResourcePolicy",
            (graphene.ObjectType,),
            result | {"resource_policy": graphene.Field(policy_type)},
        ),
        "modify": type(f"Modify{prefix}ResourcePolicy", (graphene.ObjectType,), dict(result)),
        "delete": type(f"Delete{prefix}ResourcePolicy", (graphene.ObjectType,), dict(result)),
    }
    name_arg = {"name": graphene.String(required=True)}
    mutations = type(
        f"{prefix}PolicyMutations",
        (graphene.ObjectType,),
        {
            f"create_{kind}_resource_policy": graphene.Field(
                mutation_types["create"],
                **name_arg,
                props=inputs["Create"](required=True),
                resolver=create,
            ),
            f"modify_{kind}_resource_policy": graphene.Field(
                mutation_types["modify"],
                **name_arg,
                props=inputs["Modify"](required=True),
                resolver=modify,
            ),
            f"delete_{kind}_resource_policy": graphene.Field(
                mutation_types["delete"], **name_arg, resolver=delete
            ),
        },
    )
    return queries, mutations


def _own_policy_name(kind: str, info: graphene.ResolveInfo) -> str | None:
    """Without a name, the policy that applies to the caller (its keypair's, its own)."""
    if kind == "keypair":
        return caller_keypair(info).resource_policy.name
    if kind == "user":
        return caller(info).resource_policy.name
    return None  # a user may be in several projects: there is no single one to show


KeyPairPolicyQueries, KeyPairPolicyMutations = _build("keypair")
UserPolicyQueries, UserPolicyMutations = _build("user")
ProjectPolicyQueries, ProjectPolicyMutations = _build("project")
