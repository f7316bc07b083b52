"""The vocabulary of per-host folder permissions (`allowed_vfolder_hosts` of domains, projects and
keypair resource policies: `{host: [permission, ...]}`) and its validation. Here, below both
`accounts` (which validates the maps it stores) and `storage_app` (which enforces them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from backendai_site.common.errors import InvalidAPIParameters


class VFolderHostPermission(models.TextChoices):
    """What a user may do with folders on one storage host."""

    CREATE = "create-vfolder"
    MODIFY = "modify-vfolder"  # rename, update-options
    DELETE = "delete-vfolder"  # trash, restore, purge
    MOUNT_IN_SESSION = "mount-in-session"
    UPLOAD_FILE = "upload-file"
    DOWNLOAD_FILE = "download-file"
    INVITE_OTHERS = "invite-others"  # invite users to a user folder
    SET_USER_PERM = "set-user-specific-permission"  # share a project folder to users
    CLONE = "clone-vfolder"  # clone a folder (the client's default maps still grant it)


ALL_PERMISSIONS: frozenset[str] = frozenset(VFolderHostPermission.values)
# Older names the official client still sends in its defaults (`keypair-resource-policy add`
# grants "set-user-perm"), read as the permission they became.
LEGACY_NAMES = {"set-user-perm": VFolderHostPermission.SET_USER_PERM.value}

HostPermissions = dict[str, frozenset[str]]


def host_permissions_parse(raw: Any) -> HostPermissions:
    """Validate one `allowed_vfolder_hosts` value: a mapping of host to a list of permission
    names. A bad shape or an unknown permission is a 400 naming it (written values are checked
    with this, so stored ones always parse)."""
    if raw in (None, "", {}):
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidAPIParameters(
            "allowed_vfolder_hosts must map each host to a list of permissions, e.g. "
            '{"local:volume1": ["create-vfolder", "mount-in-session"]}'
        )
    parsed: HostPermissions = {}
    for host, permissions in raw.items():
        if not isinstance(host, str) or not host or not isinstance(permissions, list | tuple):
            raise InvalidAPIParameters(f"allowed_vfolder_hosts[{host!r}] must be a list")
        names = {LEGACY_NAMES.get(str(p), str(p)) for p in permissions}
        unknown = sorted(names - ALL_PERMISSIONS)
        if unknown:
            raise InvalidAPIParameters(
                f"unknown folder host permission(s) {', '.join(unknown)} for {host}; "
                f"known: {', '.join(sorted(ALL_PERMISSIONS))}"
            )
        parsed[host] = frozenset(names)
    return parsed


def validate_host_permissions(value: Any) -> None:
    """The model field validator (admin forms): the same rule as `host_permissions_parse`."""
    try:
        host_permissions_parse(value)
    except InvalidAPIParameters as exc:
        raise ValidationError(str(exc)) from exc
