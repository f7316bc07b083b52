"""GraphQL for the folder and storage commands (COMPAT.md section 5, V1): `vfolder_list`,
`vfolder_own_list`, `vfolder_invited_list`, `vfolder_project_list`, `storage_volume_list` and
`storage_volume`. Glue only: the storage app's selectors decide what the caller sees."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import graphene
from django.db.models import QuerySet
from graphql import GraphQLError

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, User
from backendai_site.common.vfolder_host_permissions import VFolderHostPermission
from storage_app.models import StorageVolume, VFolder
from storage_app.selectors import (
    vfolders_invited,
    vfolders_listable_by,
    vfolders_own,
    vfolders_project,
)
from storage_app.services.volumes import volume_backend

MAX_LIMIT = 100
VFOLDER_ORDERABLE = frozenset({"name", "host", "status", "created_at", "last_used", "usage_mode"})


def _user(info: graphene.ResolveInfo) -> User:
    keypair = info.context["keypair"]
    assert isinstance(keypair, KeyPair)
    return keypair.user


def _page_check(limit: int, offset: int, filter: str | None) -> None:
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise GraphQLError(f"limit must be within 1..{MAX_LIMIT} and offset >= 0")
    if filter:
        raise GraphQLError("filter expressions are not supported on folder lists")


def _ordering(order: str | None) -> str:
    if not order:
        return "name"
    field = order.lstrip("+-")
    if field not in VFOLDER_ORDERABLE:
        raise GraphQLError(
            f"cannot order by {field!r}; use one of {', '.join(sorted(VFOLDER_ORDERABLE))}"
        )
    return ("-" if order.startswith("-") else "") + field


class VirtualFolder(graphene.ObjectType):
    id = graphene.UUID()
    host = graphene.String()
    quota_scope_id = graphene.String()
    name = graphene.String()
    user = graphene.UUID()
    user_email = graphene.String()
    group = graphene.UUID()
    group_name = graphene.String()
    creator = graphene.String()
    domain_name = graphene.String()
    unmanaged_path = graphene.String()
    usage_mode = graphene.String()
    permission = graphene.String()
    ownership_type = graphene.String()
    max_files = graphene.Int()
    max_size = graphene.Float()
    created_at = graphene.String()
    last_used = graphene.String()
    num_files = graphene.Int()
    cur_size = graphene.Float()
    cloneable = graphene.Boolean()
    status = graphene.String()

    @classmethod
    def from_vfolder(cls, v: VFolder) -> VirtualFolder:
        return cls(
            id=v.pk, host=v.host, quota_scope_id=v.quota_scope_id, name=v.name, user=v.user_id,
            user_email=v.user.email if v.user else None, group=v.project_id,
            group_name=v.project.name if v.project else None, creator=v.creator,
            domain_name=v.domain.name, unmanaged_path=None, usage_mode=v.usage_mode,
            permission=v.permission, ownership_type=v.ownership_type, max_files=v.max_files,
            max_size=v.max_size, created_at=v.created_at.isoformat(),
            last_used=v.last_used.isoformat() if v.last_used else None, num_files=v.num_files,
            cur_size=v.cur_size, cloneable=v.cloneable, status=v.status,
        )  # fmt: skip


class VirtualFolderList(graphene.ObjectType):
    items = graphene.List(VirtualFolder)
    total_count = graphene.Int()


class StorageVolumeType(graphene.ObjectType):
    class Meta:
        name = "StorageVolume"

    id = graphene.String()
    backend = graphene.String()
    fsprefix = graphene.String()
    path = graphene.String()
    capabilities = graphene.List(graphene.String)
    hardware_metadata = graphene.JSONString()
    performance_metric = graphene.JSONString()
    usage = graphene.JSONString()

    @classmethod
    def from_volume(cls, volume: StorageVolume) -> StorageVolumeType:
        try:
            capacity, used = volume_backend(volume).volume_usage()
        except OSError:
            capacity = used = -1
        return cls(
            id=volume.name, backend=volume.backend, fsprefix=".", path=volume.mount_path,
            capabilities=list(volume.capabilities or []),
            hardware_metadata={"status": "healthy" if capacity >= 0 else "unavailable"},
            performance_metric={},
            usage={"capacity_bytes": capacity, "used_bytes": used},
        )  # fmt: skip


class StorageVolumeList(graphene.ObjectType):
    items = graphene.List(StorageVolumeType)
    total_count = graphene.Int()


def _page(qs: QuerySet[VFolder], limit: int, offset: int, order: str | None) -> VirtualFolderList:
    qs = qs.distinct()
    total = qs.count()
    rows = qs.select_related("user", "project", "domain").order_by(_ordering(order), "id")
    return VirtualFolderList(
        items=[VirtualFolder.from_vfolder(v) for v in rows[offset : offset + limit]],
        total_count=total,
    )


def _list_args() -> dict[str, Any]:
    return {
        "limit": graphene.Int(required=True),
        "offset": graphene.Int(required=True),
        "filter": graphene.String(),
        "order": graphene.String(),
    }


def _require_admin(user: User) -> None:
    if user.role not in (UserRole.SUPERADMIN, UserRole.ADMIN):
        raise GraphQLError("storage volumes are visible to admins only")


class PredefinedAtomicPermission(graphene.ObjectType):
    vfolder_host_permission_list = graphene.List(graphene.String)


class StorageQuery(graphene.ObjectType):
    vfolder_host_permissions = graphene.Field(PredefinedAtomicPermission)

    vfolder_list = graphene.Field(VirtualFolderList, group_id=graphene.UUID(), **_list_args())
    vfolder_own_list = graphene.Field(VirtualFolderList, **_list_args())
    vfolder_invited_list = graphene.Field(VirtualFolderList, **_list_args())
    vfolder_project_list = graphene.Field(VirtualFolderList, **_list_args())
    storage_volume_list = graphene.Field(StorageVolumeList, **_list_args())
    storage_volume = graphene.Field(StorageVolumeType, id=graphene.String(required=True))

    @staticmethod
    def resolve_vfolder_host_permissions(
        root: None, info: graphene.ResolveInfo
    ) -> PredefinedAtomicPermission:
        """Every permission an `allowed_vfolder_hosts` map may grant (`admin permission list`)."""
        return PredefinedAtomicPermission(
            vfolder_host_permission_list=list(VFolderHostPermission.values)
        )

    @staticmethod
    def resolve_vfolder_list(
        root: None, info: graphene.ResolveInfo, limit: int, offset: int,
        group_id: UUID | None = None, filter: str | None = None, order: str | None = None,
    ) -> VirtualFolderList:  # fmt: skip
        _page_check(limit, offset, filter)
        qs = vfolders_listable_by(user=_user(info))
        if group_id is not None:
            qs = qs.filter(project_id=group_id)
        return _page(qs, limit, offset, order)

    @staticmethod
    def resolve_vfolder_own_list(
        root: None, info: graphene.ResolveInfo, limit: int, offset: int,
        filter: str | None = None, order: str | None = None,
    ) -> VirtualFolderList:  # fmt: skip
        _page_check(limit, offset, filter)
        return _page(vfolders_own(user=_user(info)), limit, offset, order)

    @staticmethod
    def resolve_vfolder_invited_list(
        root: None, info: graphene.ResolveInfo, limit: int, offset: int,
        filter: str | None = None, order: str | None = None,
    ) -> VirtualFolderList:  # fmt: skip
        _page_check(limit, offset, filter)
        return _page(vfolders_invited(user=_user(info)), limit, offset, order)

    @staticmethod
    def resolve_vfolder_project_list(
        root: None, info: graphene.ResolveInfo, limit: int, offset: int,
        filter: str | None = None, order: str | None = None,
    ) -> VirtualFolderList:  # fmt: skip
        _page_check(limit, offset, filter)
        return _page(vfolders_project(user=_user(info)), limit, offset, order)

    @staticmethod
    def resolve_storage_volume_list(
        root: None, info: graphene.ResolveInfo, limit: int, offset: int,
        filter: str | None = None, order: str | None = None,
    ) -> StorageVolumeList:  # fmt: skip
        _require_admin(_user(info))
        if not 1 <= limit <= MAX_LIMIT or offset < 0 or filter:
            raise GraphQLError("limit must be within 1..100, offset >= 0; no filter")
        qs = StorageVolume.objects.order_by("-name" if order == "-id" else "name")
        return StorageVolumeList(
            items=[StorageVolumeType.from_volume(v) for v in qs[offset : offset + limit]],
            total_count=qs.count(),
        )

    @staticmethod
    def resolve_storage_volume(
        root: None, info: graphene.ResolveInfo, id: str
    ) -> StorageVolumeType | None:
        _require_admin(_user(info))
        volume = StorageVolume.objects.filter(name=id).first()
        return StorageVolumeType.from_volume(volume) if volume else None
