"""Per-host folder permissions: the `allowed_vfolder_hosts` maps of a user's domain, of the
projects the user belongs to and of the resource policies of the user's active keypairs, each
`{host: [permission, ...]}` (`enums.VFolderHostPermission`), are united, as the reference does.

Departure from the reference (docs/design/0006-storage.md): when none of them names any host,
every active host allows everything (the quick start configures no maps); once any map names a
host, only the hosts named allow anything, and only what they list. The keypair level unites
every active keypair of the user, since folder services act for a user, not for one key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backendai_site.accounts.models import KeyPair, Project, User
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.vfolder_host_permissions import (
    HostPermissions,
    VFolderHostPermission,
    host_permissions_parse,
)
from storage_app.errors import VFolderHostPermissionDenied


def _stored(raw: Any) -> HostPermissions:
    try:
        return host_permissions_parse(raw)
    except InvalidAPIParameters:
        return {}  # a value written before validation existed grants nothing


def _united(maps: Iterable[HostPermissions]) -> HostPermissions:
    united: dict[str, set[str]] = {}
    for one in maps:
        for host, permissions in one.items():
            united.setdefault(host, set()).update(permissions)
    return {host: frozenset(permissions) for host, permissions in united.items()}


def host_permissions_for(*, user: User) -> HostPermissions | None:
    """The hosts the user may use and what they may do there; None when no level restricts."""
    levels = [_stored(user.domain.allowed_vfolder_hosts)]
    levels += [
        _stored(raw)
        for raw in Project.objects.filter(members=user).values_list(
            "allowed_vfolder_hosts", flat=True
        )
    ]
    levels += [
        _stored(raw)
        for raw in KeyPair.objects.filter(user=user, is_active=True).values_list(
            "resource_policy__allowed_vfolder_hosts", flat=True
        )
    ]
    united = _united(levels)
    return united or None


def host_permission_allows(*, user: User, host: str, permission: str) -> bool:
    granted = host_permissions_for(user=user)
    return granted is None or permission in granted.get(host, frozenset())


def host_permission_require(*, user: User, host: str, permission: VFolderHostPermission) -> None:
    if not host_permission_allows(user=user, host=host, permission=permission):
        raise VFolderHostPermissionDenied(
            f"{host} does not allow {permission.value} for you (allowed_vfolder_hosts of your "
            "domain, projects and keypair resource policy)."
        )


def host_permission_require_by_id(
    *, user_id: Any, host: str, permission: VFolderHostPermission
) -> None:
    """`host_permission_require` for services that hold the acting user's id only."""
    user = User.objects.select_related("domain").get(pk=user_id)
    host_permission_require(user=user, host=host, permission=permission)
