"""Which folders a new session mounts, where, and how (read-only or not).

`session_mounts_resolve` turns the create request's `mounts` (names, or `name/sub/path`),
`mount_ids`, `mount_map`, `mount_id_map` and `mount_options` into bind mounts, checking that the
requester may use each folder. The result is plain JSON stored on the session and copied into
each kernel's create command.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from django.utils import timezone

from backendai_site.accounts.models import User
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.vfolder_host_permissions import VFolderHostPermission
from storage_app.enums import (
    VFolderPermissionMode,
    VFolderStatus,
    VFolderUsageMode,
)
from storage_app.errors import VFolderFileNotFound, VFolderPermissionDenied
from storage_app.host_permissions import host_permission_require
from storage_app.models import VFolder
from storage_app.paths import clean_relpath, open_dir
from storage_app.selectors import vfolder_resolve

from .volumes import vfolder_root

CONTAINER_HOME = "/home/work"
RESERVED_TARGETS = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin",
    "/sys", "/tmp", "/usr", "/var", "/opt/kernel", "/opt/backend.ai",
)  # fmt: skip
MAX_MOUNTS = 64


@dataclass(frozen=True, slots=True)
class ResolvedMount:
    name: str
    vfid: str
    host_path: str
    container_path: str
    read_only: bool
    permission: str
    subpath: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _target(raw: str | None, name: str) -> str:
    if not raw:
        return posixpath.join(CONTAINER_HOME, name)
    if "\x00" in raw or ".." in raw.split("/"):
        raise InvalidAPIParameters(f"Mount target {raw!r} is not allowed.")
    target = posixpath.normpath(raw if raw.startswith("/") else posixpath.join(CONTAINER_HOME, raw))
    if target in ("/", CONTAINER_HOME) or any(
        target == p or target.startswith(p + "/") for p in RESERVED_TARGETS
    ):
        raise InvalidAPIParameters(f"Mount target {raw!r} overlaps a system path.")
    return target


def _requested_permission(options: Mapping[str, Any]) -> str | None:
    value = options.get("permission") or options.get("perm")
    if value is None:
        return None
    value = str(value)
    if value not in VFolderPermissionMode.values:
        raise InvalidAPIParameters(f"Mount permission must be ro, rw or wd, not {value!r}.")
    return value


def _one(
    *, user: User, ref: str, label: str, target: str | None, options: Mapping[str, Any]
) -> ResolvedMount:
    folder_ref, _, inline_subpath = ref.partition("/")
    access = vfolder_resolve(user=user, ref=folder_ref, statuses=VFolderStatus.usable())
    vfolder = access.vfolder
    host_permission_require(
        user=user, host=vfolder.host, permission=VFolderHostPermission.MOUNT_IN_SESSION
    )
    permission = access.permission
    if vfolder.usage_mode == VFolderUsageMode.MODEL and not access.is_owner:
        permission = VFolderPermissionMode.READ_ONLY
    wanted = _requested_permission(options)
    if wanted is not None:
        if VFolderPermissionMode.rank(wanted) > VFolderPermissionMode.rank(permission):
            raise VFolderPermissionDenied(
                f"You may mount {vfolder.name!r} with {permission!r} only, not {wanted!r}."
            )
        permission = wanted
    subpath = str(options.get("subpath") or inline_subpath or ".")
    root = vfolder_root(vfolder).resolve()
    rel = clean_relpath(subpath)
    try:
        with open_dir(root, rel, raw=subpath):
            pass  # every component is a real directory, none a link
    except VFolderFileNotFound:
        raise VFolderFileNotFound(f"No directory {subpath!r} in folder {vfolder.name!r}.") from None
    host_path = root / rel
    return ResolvedMount(
        name=label,
        vfid=vfolder.pk.hex,
        host_path=str(host_path),
        container_path=_target(target, vfolder.name),
        read_only=permission == VFolderPermissionMode.READ_ONLY,
        permission=permission,
        subpath=str(clean_relpath(subpath)),
    )


def session_mounts_resolve(
    *,
    user: User,
    mounts: Sequence[str],
    mount_map: Mapping[str, str],
    mount_options: Mapping[str, Mapping[str, Any]],
    mount_ids: Sequence[UUID] = (),
    mount_id_map: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Bind mounts for a new session; a folder the requester cannot use is a 4xx."""
    id_map = {str(k).replace("-", ""): v for k, v in (mount_id_map or {}).items()}
    refs: list[tuple[str, str | None, Mapping[str, Any]]] = []
    for name in mounts:
        refs.append((name, mount_map.get(name), mount_options.get(name, {})))
    for vfid in mount_ids:
        key = UUID(str(vfid)).hex
        refs.append((key, id_map.get(key), mount_options.get(str(vfid), {})))
    if len(refs) > MAX_MOUNTS:
        raise InvalidAPIParameters(f"At most {MAX_MOUNTS} folders can be mounted.")
    resolved = [
        _one(user=user, ref=ref, label=ref, target=target, options=options)
        for ref, target, options in refs
    ]
    targets = [m.container_path for m in resolved]
    duplicates = sorted({t for t in targets if targets.count(t) > 1})
    if duplicates:
        raise InvalidAPIParameters(f"Two folders mount at {', '.join(duplicates)}.")
    unknown = sorted(set(mount_map) - set(mounts))
    if unknown:
        raise InvalidAPIParameters(f"mount_map names folders not in mounts: {', '.join(unknown)}.")
    named = set(mounts) | {str(v) for v in mount_ids} | {UUID(str(v)).hex for v in mount_ids}
    stray = sorted(set(mount_options) - named)
    if stray:
        raise InvalidAPIParameters(
            f"mount_options names folders that are not mounted: {', '.join(stray)}."
        )
    if resolved:
        VFolder.objects.filter(pk__in=[UUID(m.vfid) for m in resolved]).update(
            last_used=timezone.now()
        )
    return [m.as_json() for m in resolved]


def kernel_mounts(session_mounts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The runtime's mount list (host path, container path, read-only) of a session's mounts."""
    return [
        {
            "host_path": m["host_path"],
            "container_path": m["container_path"],
            "read_only": bool(m["read_only"]),
        }
        for m in session_mounts
        if "host_path" in m
    ]
