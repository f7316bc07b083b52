"""What storage_app asks of sessions: which live sessions mount a folder (purge refuses those)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db.models import Q

from sessions_app.enums import SessionStatus
from sessions_app.models import Session


def vfolder_mount_users(vfolder_ids: Iterable[UUID]) -> dict[UUID, list[str]]:
    ids = {UUID(str(v)).hex: UUID(str(v)) for v in vfolder_ids}
    if not ids:
        return {}
    match = Q()
    for hexid in ids:
        match |= Q(mounts__contains=[{"vfid": hexid}])
    found: dict[UUID, list[str]] = {}
    rows = Session.objects.exclude(status__in=SessionStatus.dead()).filter(match)
    for session_id, mounts in rows.values_list("pk", "mounts"):
        for mount in mounts or []:
            vfid = ids.get(str(mount.get("vfid")))
            if vfid is not None:
                found.setdefault(vfid, []).append(str(session_id))
    return found
