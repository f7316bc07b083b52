"""The GraphQL surface the official client reads (COMPAT.md §5): `keypair`,
`compute_session_list`, `compute_session` and `images`.

Glue only: resolvers call the apps' selectors with the caller's keypair, so every answer is scoped
exactly like the REST API. Lives beside urls/asgi because it ties several apps together.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import graphene
from graphql import GraphQLError

from agents_app.models import Image
from backendai_site.accounts.models import KeyPair
from sessions_app.enums import SessionAction, SessionStatus
from sessions_app.errors import SessionNotFound
from sessions_app.models import Kernel, Session
from sessions_app.selectors import session_get_by_ref, sessions_for
from sessions_app.services.idle import session_idle_checks

from .agents import AgentMutations, AgentQueries
from .filters import apply_filter
from .images import ImageMutations, ImageQueries
from .keypairs import KeyPairMutations, KeyPairQueries
from .policies import (
    KeyPairPolicyMutations,
    KeyPairPolicyQueries,
    ProjectPolicyMutations,
    ProjectPolicyQueries,
    UserPolicyMutations,
    UserPolicyQueries,
)
from .quota_scopes import QuotaScopeMutations, QuotaScopeQueries
from .sessions import SESSION_FILTERABLE, SessionMutations
from .storage import StorageQuery
from .tenancy import TenancyMutations, TenancyQueries
from .users import UserMutations, UserQueries

ORDERABLE = frozenset(
    {"created_at", "name", "status", "priority", "status_changed", "terminated_at"}
)
MAX_LIMIT = 100


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _caller(info: graphene.ResolveInfo) -> KeyPair:
    keypair = info.context["keypair"]
    assert isinstance(keypair, KeyPair)
    return keypair


class UserInfo(graphene.ObjectType):
    full_name = graphene.String()


class KeyPairType(graphene.ObjectType):
    class Meta:
        name = "KeyPair"

    user_id = graphene.String()
    user_info = graphene.Field(UserInfo)
    access_key = graphene.String()
    secret_key = graphene.String(description="Never returned: secrets are shown once, when issued.")
    is_active = graphene.Boolean()
    is_admin = graphene.Boolean()
    created_at = graphene.String()
    last_used = graphene.String()
    resource_policy = graphene.String()
    rate_limit = graphene.Int()
    concurrency_used = graphene.Int()

    @staticmethod
    def from_keypair(keypair: KeyPair) -> KeyPairType:
        live = Session.objects.filter(access_key=keypair).exclude(status__in=SessionStatus.dead())
        return KeyPairType(
            user_id=keypair.user.email,
            user_info=UserInfo(full_name=keypair.user.full_name),
            access_key=keypair.access_key,
            secret_key=None,
            is_active=keypair.is_active,
            is_admin=keypair.is_admin,
            created_at=_iso(keypair.created_at),
            last_used=_iso(keypair.last_used),
            resource_policy=keypair.resource_policy.name,
            rate_limit=keypair.rate_limit,
            concurrency_used=live.count(),
        )


class Dependency(graphene.ObjectType):
    name = graphene.String()
    id = graphene.UUID()


class ComputeContainer(graphene.ObjectType):
    id = graphene.UUID()
    cluster_role = graphene.String()
    cluster_idx = graphene.Int()
    cluster_hostname = graphene.String()
    session_id = graphene.UUID()
    image = graphene.String()
    registry = graphene.String()
    status = graphene.String()
    status_info = graphene.String()
    status_data = graphene.String()
    status_changed = graphene.String()
    agent = graphene.String()
    container_id = graphene.String()
    resource_opts = graphene.String()
    occupied_slots = graphene.String()
    preopen_ports = graphene.List(graphene.Int)
    live_stat = graphene.String()
    last_stat = graphene.String()

    @staticmethod
    def from_kernel(kernel: Kernel, session: Session) -> ComputeContainer:
        return ComputeContainer(
            id=kernel.pk,
            cluster_role=kernel.cluster_role,
            cluster_idx=kernel.cluster_idx,
            cluster_hostname=kernel.cluster_hostname,
            session_id=session.pk,
            image=session.image_ref,
            registry=session.image.registry.name if session.image.registry else "",
            status=kernel.status,
            status_info=kernel.status_info,
            status_data=_json({}),
            status_changed=_iso(kernel.status_changed),
            agent=kernel.agent_id,
            container_id=kernel.container_id,
            resource_opts=_json(session.resource_opts),
            occupied_slots=_json(kernel.occupied_slots or {}),
            preopen_ports=session.preopen_ports,
            live_stat=None,
            last_stat=None,
        )


class ComputeSession(graphene.ObjectType):
    id = graphene.UUID()
    main_kernel_id = graphene.UUID()
    tag = graphene.String()
    name = graphene.String()
    type = graphene.String()
    priority = graphene.Int()
    image = graphene.String()
    registry = graphene.String()
    cluster_mode = graphene.String()
    cluster_size = graphene.Int()
    domain_name = graphene.String()
    group_name = graphene.String()
    group_id = graphene.UUID()
    agent_ids = graphene.List(graphene.String)
    user_email = graphene.String()
    user_id = graphene.UUID()
    access_key = graphene.String()
    status = graphene.String()
    status_info = graphene.String()
    status_data = graphene.String()
    status_changed = graphene.String()
    created_at = graphene.String()
    terminated_at = graphene.String()
    starts_at = graphene.String()
    startup_command = graphene.String()
    result = graphene.String()
    resource_opts = graphene.String()
    scaling_group = graphene.String()
    service_ports = graphene.String()
    mounts = graphene.List(graphene.String)
    occupying_slots = graphene.String()
    idle_checks = graphene.String()
    containers = graphene.List(ComputeContainer)
    dependencies = graphene.List(Dependency)

    @staticmethod
    def from_session(session: Session, *, detail: bool = False) -> ComputeSession:
        kernels = list(session.kernels.all())
        main = next((k for k in kernels if k.cluster_role == "main"), None)
        fields: dict[str, Any] = dict(
            id=session.pk,
            main_kernel_id=main.pk if main else None,
            tag=session.tag,
            name=session.name,
            type=session.session_type.upper(),
            priority=session.priority,
            image=session.image_ref,
            registry=session.image.registry.name if session.image.registry else "",
            cluster_mode=session.cluster_mode,
            cluster_size=session.cluster_size,
            domain_name=session.domain.name,
            group_name=session.project.name,
            group_id=session.project_id,
            agent_ids=sorted({k.agent_id for k in kernels if k.agent_id}),
            user_email=session.user.email,
            user_id=session.user_id,
            access_key=session.access_key_id,
            status=session.status,
            status_info=session.status_info,
            status_data=_json(session.status_data or {}),
            status_changed=_iso(session.status_changed),
            created_at=_iso(session.created_at),
            terminated_at=_iso(session.terminated_at),
            starts_at=_iso(session.starts_at),
            startup_command=session.startup_command,
            result=session.result,
            resource_opts=_json(session.resource_opts),
            scaling_group=session.resource_group.name,
            service_ports=_json(main.service_ports if main else []),
            mounts=[str(m.get("name")) for m in session.mounts],
            occupying_slots=_json(session.occupying_slots or {}),
            containers=[ComputeContainer.from_kernel(k, session) for k in kernels],
            dependencies=[
                Dependency(name=link.depends_on.name, id=link.depends_on_id)
                for link in session.dependencies.all()
            ],
        )
        if detail:
            fields["idle_checks"] = _json(session_idle_checks(session))
        return ComputeSession(**fields)


class ComputeSessionList(graphene.ObjectType):
    items = graphene.List(ComputeSession)
    total_count = graphene.Int()


class ImageType(graphene.ObjectType):
    class Meta:
        name = "Image"

    name = graphene.String()
    registry = graphene.String()
    architecture = graphene.String()
    tag = graphene.String()
    digest = graphene.String()
    size_bytes = graphene.Int()
    aliases = graphene.List(graphene.String)


def _ordering(order: str | None) -> str:
    if not order:
        return "-created_at"
    field = order.strip().removeprefix("-").removeprefix("+")
    if field not in ORDERABLE:
        raise GraphQLError(f"cannot order by {order!r}; use one of {', '.join(sorted(ORDERABLE))}")
    return f"-{field}" if order.strip().startswith("-") else field


class Query(
    UserQueries,
    KeyPairQueries,
    TenancyQueries,
    KeyPairPolicyQueries,
    UserPolicyQueries,
    ProjectPolicyQueries,
    AgentQueries,
    StorageQuery,
    QuotaScopeQueries,
    ImageQueries,
    graphene.ObjectType,
):
    keypair = graphene.Field(KeyPairType)
    compute_session_list = graphene.Field(
        ComputeSessionList,
        limit=graphene.Int(required=True),
        offset=graphene.Int(required=True),
        status=graphene.String(),
        access_key=graphene.String(),
        filter=graphene.String(),
        order=graphene.String(),
    )
    compute_session = graphene.Field(ComputeSession, id=graphene.UUID(required=True))
    images = graphene.List(ImageType, is_operation=graphene.Boolean())

    @staticmethod
    def resolve_keypair(root: None, info: graphene.ResolveInfo) -> KeyPairType:
        return KeyPairType.from_keypair(_caller(info))

    @staticmethod
    def resolve_compute_session_list(
        root: None,
        info: graphene.ResolveInfo,
        limit: int,
        offset: int,
        status: str | None = None,
        access_key: str | None = None,
        filter: str | None = None,
        order: str | None = None,
    ) -> ComputeSessionList:
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise GraphQLError(f"limit must be within 1..{MAX_LIMIT} and offset >= 0")
        caller = _caller(info)
        qs = apply_filter(sessions_for(caller, SessionAction.VIEW), filter, SESSION_FILTERABLE)
        if status:
            wanted = {s.strip().upper() for s in status.split(",") if s.strip()}
            unknown = wanted - set(SessionStatus.values)
            if unknown:
                raise GraphQLError(f"unknown status: {', '.join(sorted(unknown))}")
            qs = qs.filter(status__in=wanted)
        if access_key:
            qs = qs.filter(access_key_id=access_key)
        total = qs.count()
        page = (
            qs.select_related("domain", "project", "user", "image__registry", "resource_group")
            .prefetch_related("kernels", "dependencies__depends_on")
            .order_by(_ordering(order), "id")[offset : offset + limit]
        )
        return ComputeSessionList(
            items=[ComputeSession.from_session(s) for s in page], total_count=total
        )

    @staticmethod
    def resolve_compute_session(
        root: None, info: graphene.ResolveInfo, id: UUID
    ) -> ComputeSession | None:
        try:
            session = session_get_by_ref(
                requester=_caller(info), ref=str(id), action=SessionAction.VIEW
            )
        except SessionNotFound:
            return None
        return ComputeSession.from_session(session, detail=True)

    @staticmethod
    def resolve_images(
        root: None, info: graphene.ResolveInfo, is_operation: bool | None = None
    ) -> list[ImageType]:
        images = Image.objects.select_related("registry").prefetch_related("aliases")
        return [
            ImageType(
                name=image.name,
                registry=image.registry.name if image.registry else "",
                architecture=image.architecture,
                tag=image.tag,
                digest=image.digest,
                size_bytes=image.size_bytes,
                aliases=[alias.alias for alias in image.aliases.all()],
            )
            for image in images.order_by("name", "tag")
        ]


class Mutation(
    UserMutations,
    KeyPairMutations,
    TenancyMutations,
    KeyPairPolicyMutations,
    UserPolicyMutations,
    ProjectPolicyMutations,
    AgentMutations,
    SessionMutations,
    ImageMutations,
    QuotaScopeMutations,
    graphene.ObjectType,
):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation, auto_camelcase=False)

__all__ = ["schema"]
