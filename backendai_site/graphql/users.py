"""Users in the admin GraphQL: `user`, `user_list`, `create_user`, `modify_user`, `delete_user`,
`purge_user` (docs/compat/graphql-admin.md). Thin: scoping and rules live in the accounts app."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import graphene
from graphql import GraphQLError

from backendai_site.accounts.enums import UserStatus
from backendai_site.accounts.models import User
from backendai_site.accounts.selectors import (
    user_visible_get,
    users_for_listing,
    users_visible_to,
)
from backendai_site.accounts.user_services import (
    UserChanges,
    require_manager,
    user_admin_create,
    user_admin_delete,
    user_admin_modify,
)
from sessions_app.services.owners import user_purge

from .common import (
    as_iso,
    caller,
    input_values,
    mutation_guard,
    ordering,
    page,
    query_guard,
)
from .filters import apply_filter

USER_ORDERABLE = frozenset({"email", "username", "created_at", "modified_at", "role", "status"})
USER_FILTERABLE = {
    "email": "email",
    "username": "username",
    "full_name": "full_name",
    "role": "role",
    "status": "status",
    "domain_name": "domain__name",
    "created_at": "created_at",
}


class ProjectRef(graphene.ObjectType):
    class Meta:
        name = "UserGroup"

    id = graphene.UUID()
    name = graphene.String()


class UserType(graphene.ObjectType):
    class Meta:
        name = "User"

    uuid = graphene.UUID()
    id = graphene.UUID()
    username = graphene.String()
    email = graphene.String()
    need_password_change = graphene.Boolean()
    full_name = graphene.String()
    description = graphene.String()
    is_active = graphene.Boolean()
    status = graphene.String()
    status_info = graphene.String()
    created_at = graphene.String()
    modified_at = graphene.String()
    domain_name = graphene.String()
    role = graphene.String()
    resource_policy = graphene.String()
    groups = graphene.List(ProjectRef)
    allowed_client_ip = graphene.List(graphene.String)
    totp_activated = graphene.Boolean()
    sudo_session_enabled = graphene.Boolean()
    main_access_key = graphene.String()
    container_uid = graphene.Int()
    container_main_gid = graphene.Int()
    container_gids = graphene.List(graphene.Int)

    @staticmethod
    def from_user(user: User) -> UserType:
        """Reads only what `users_for_listing` prefetched."""
        keypairs = [k for k in user.keypairs.all() if k.is_active]
        return UserType(
            uuid=user.pk,
            id=user.pk,
            username=user.username,
            email=user.email,
            need_password_change=user.need_password_change,
            full_name=user.full_name,
            description=user.description,
            is_active=user.is_active,
            status=user.status,
            status_info=user.status_info,
            created_at=as_iso(user.created_at),
            modified_at=as_iso(user.modified_at),
            domain_name=user.domain.name,
            role=user.role,
            resource_policy=user.resource_policy_id,
            groups=[ProjectRef(id=p.pk, name=p.name) for p in user.projects.all()],
            allowed_client_ip=None,
            totp_activated=False,
            sudo_session_enabled=False,
            main_access_key=keypairs[0].access_key if keypairs else None,
            container_uid=None,
            container_main_gid=None,
            container_gids=None,
        )


class UserList(graphene.ObjectType):
    items = graphene.List(UserType)
    total_count = graphene.Int()


class UserInput(graphene.InputObjectType):
    username = graphene.String()
    password = graphene.String(required=True)
    need_password_change = graphene.Boolean()
    full_name = graphene.String()
    description = graphene.String()
    is_active = graphene.Boolean()
    status = graphene.String()
    domain_name = graphene.String(required=True)
    role = graphene.String()
    group_ids = graphene.List(graphene.String)
    allowed_client_ip = graphene.List(graphene.String)
    totp_activated = graphene.Boolean()
    resource_policy = graphene.String()
    sudo_session_enabled = graphene.Boolean()
    container_uid = graphene.Int()
    container_main_gid = graphene.Int()
    container_gids = graphene.List(graphene.Int)


class ModifyUserInput(graphene.InputObjectType):
    username = graphene.String()
    password = graphene.String()
    need_password_change = graphene.Boolean()
    full_name = graphene.String()
    description = graphene.String()
    is_active = graphene.Boolean()
    status = graphene.String()
    domain_name = graphene.String()
    role = graphene.String()
    group_ids = graphene.List(graphene.String)
    allowed_client_ip = graphene.List(graphene.String)
    totp_activated = graphene.Boolean()
    resource_policy = graphene.String()
    sudo_session_enabled = graphene.Boolean()
    main_access_key = graphene.String()
    container_uid = graphene.Int()
    container_main_gid = graphene.Int()
    container_gids = graphene.List(graphene.Int)


class PurgeUserInput(graphene.InputObjectType):
    purge_shared_vfolders = graphene.Boolean()
    delegate_endpoint_ownership = graphene.Boolean()


def _changes(props: Any) -> UserChanges:
    values = input_values(props)
    if "is_active" in values:
        # the reference's is_active is status shorthand; an explicit status wins
        active = values.pop("is_active")
        if active is not None:
            values.setdefault("status", UserStatus.ACTIVE if active else UserStatus.INACTIVE)
    if values.pop("resource_policy", None) is not None:
        raise GraphQLError("resource_policy cannot be set through this mutation")
    return UserChanges(values=values)


def _managed(info: graphene.ResolveInfo, email: str) -> tuple[User, User]:
    actor = caller(info)
    require_manager(actor)
    return actor, user_visible_get(actor=actor, email=email)


class UserQueries(graphene.ObjectType):
    user = graphene.Field(UserType, email=graphene.String(), domain_name=graphene.String())
    user_from_uuid = graphene.Field(UserType, user_id=graphene.ID())
    user_list = graphene.Field(
        UserList,
        limit=graphene.Int(required=True),
        offset=graphene.Int(required=True),
        status=graphene.String(),
        group_id=graphene.UUID(),
        filter=graphene.String(),
        order=graphene.String(),
    )

    @staticmethod
    def resolve_user(
        root: None,
        info: graphene.ResolveInfo,
        email: str | None = None,
        domain_name: str | None = None,
    ) -> UserType | None:
        """`domain_name` (sent by `admin quota-scope`) narrows the match: a user of another
        domain is not found rather than returned."""
        actor = caller(info)
        found = query_guard(lambda: user_visible_get(actor=actor, email=email or actor.email))
        if domain_name is not None and found.domain.name != domain_name:
            return None
        return UserType.from_user(found)

    @staticmethod
    def resolve_user_from_uuid(
        root: None, info: graphene.ResolveInfo, user_id: str | None = None
    ) -> UserType | None:
        actor = caller(info)
        qs = users_for_listing(users_visible_to(actor=actor))
        try:
            found = qs.filter(pk=UUID(user_id) if user_id else actor.pk).first()
        except ValueError as exc:
            raise GraphQLError(f"user_id {user_id!r} is not a UUID") from exc
        return UserType.from_user(found) if found else None

    @staticmethod
    def resolve_user_list(
        root: None,
        info: graphene.ResolveInfo,
        limit: int,
        offset: int,
        status: str | None = None,
        group_id: UUID | None = None,
        filter: str | None = None,
        order: str | None = None,
    ) -> UserList:
        actor = caller(info)
        if actor.role == "user":
            raise GraphQLError("listing users needs an admin or monitor role")
        qs = users_visible_to(actor=actor)
        if status:
            qs = qs.filter(status=status)
        if group_id:
            qs = qs.filter(projects__pk=group_id)
        qs = apply_filter(qs, filter, USER_FILTERABLE)
        qs = users_for_listing(qs).order_by(*ordering(order, USER_ORDERABLE, "created_at"), "pk")
        users, total = page(qs, limit, offset)
        return UserList(items=[UserType.from_user(u) for u in users], total_count=total)


class CreateUser(graphene.Mutation):
    class Arguments:
        email = graphene.String(required=True)
        props = UserInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()
    user = graphene.Field(UserType)

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, email: str, props: Any) -> CreateUser:
        actor = caller(info)
        created, error = mutation_guard(
            lambda: user_admin_create(actor=actor, email=email, changes=_changes(props))
        )
        if created is None:
            return CreateUser(ok=False, msg=error, user=None)
        fresh = users_for_listing(User.objects.filter(pk=created.pk)).get()
        return CreateUser(ok=True, msg="success", user=UserType.from_user(fresh))


class ModifyUser(graphene.Mutation):
    class Arguments:
        email = graphene.String(required=True)
        props = ModifyUserInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, email: str, props: Any) -> ModifyUser:
        def run() -> User:
            actor, user = _managed(info, email)
            return user_admin_modify(actor=actor, user=user, changes=_changes(props))

        done, error = mutation_guard(run)
        return ModifyUser(ok=done is not None, msg=error or "success")


class DeleteUser(graphene.Mutation):
    class Arguments:
        email = graphene.String(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, email: str) -> DeleteUser:
        def run() -> bool:
            actor, user = _managed(info, email)
            user_admin_delete(actor=actor, user=user)
            return True

        done, error = mutation_guard(run)
        return DeleteUser(ok=bool(done), msg=error or "success")


class PurgeUser(graphene.Mutation):
    class Arguments:
        email = graphene.String(required=True)
        props = PurgeUserInput(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, email: str, props: Any) -> PurgeUser:
        if props.get("purge_shared_vfolders") or props.get("delegate_endpoint_ownership"):
            raise GraphQLError(
                "purge_shared_vfolders and delegate_endpoint_ownership are not supported"
            )

        def run() -> bool:
            actor, user = _managed(info, email)
            user_purge(actor=actor, user=user)
            return True

        done, error = mutation_guard(run)
        return PurgeUser(ok=bool(done), msg=error or "success")


class UserMutations(graphene.ObjectType):
    create_user = CreateUser.Field()
    modify_user = ModifyUser.Field()
    delete_user = DeleteUser.Field()
    purge_user = PurgeUser.Field()
