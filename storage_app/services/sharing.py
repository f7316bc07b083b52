"""Invitations to user folders, shares of project folders, and leaving a shared folder."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction

from backendai_site.accounts.models import ProjectMembership, User
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.vfolder_host_permissions import VFolderHostPermission
from storage_app.enums import (
    InvitationState,
    VFolderOwnership,
    VFolderPermissionMode,
)
from storage_app.errors import (
    VFolderInvitationNotFound,
    VFolderPermissionDenied,
    VFolderUserNotFound,
)
from storage_app.host_permissions import host_permission_require
from storage_app.models import VFolderInvitation, VFolderPermission
from storage_app.selectors import VFolderAccess

from .folders import _is_admin_of

log = logging.getLogger(__name__)


def _perm_check(value: str) -> str:
    if value not in VFolderPermissionMode.values:
        raise InvalidAPIParameters("permission must be ro, rw or wd.")
    return value


def _users_by_email(emails: Sequence[str], *, domain_id: int | None) -> list[User]:
    qs = User.objects.filter(email__in=list(emails))
    if domain_id is not None:
        qs = qs.filter(domain_id=domain_id)
    return list(qs)


def vfolder_invite(
    *, inviter: User, access: VFolderAccess, permission: str, emails: Sequence[str]
) -> list[str]:
    """Invite users (by e-mail, same domain) to a user folder the inviter owns."""
    _perm_check(permission)
    vfolder = access.vfolder
    if vfolder.ownership_type != VFolderOwnership.USER:
        raise InvalidAPIParameters("Project folders are shared with `share`, not invited to.")
    if not access.is_owner:
        raise VFolderPermissionDenied("Only the owner invites others to a folder.")
    host_permission_require(
        user=inviter, host=vfolder.host, permission=VFolderHostPermission.INVITE_OTHERS
    )
    invited: list[str] = []
    for user in _users_by_email(emails, domain_id=inviter.domain_id):
        if user.pk == inviter.pk:
            continue
        if VFolderPermission.objects.filter(vfolder=vfolder, user=user).exists():
            continue
        try:
            with transaction.atomic():
                VFolderInvitation.objects.create(
                    vfolder=vfolder, inviter=inviter, invitee=user, permission=permission
                )
        except IntegrityError:
            continue  # a pending invitation exists already
        invited.append(user.email)
    log.info(
        "vfolder invitations sent", extra={"vfolder_id": str(vfolder.pk), "count": len(invited)}
    )
    return invited


def invitations_pending(*, user: User) -> list[dict[str, Any]]:
    rows = (
        VFolderInvitation.objects.filter(invitee=user, state=InvitationState.PENDING)
        .select_related("vfolder", "inviter")
        .order_by("-created_at")
    )
    return [
        {
            "id": str(inv.pk),
            "inviter": inv.inviter.email,
            "invitee": user.email,
            "vfolder_id": str(inv.vfolder_id),
            "vfolder_name": inv.vfolder.name,
            "perm": inv.permission,
            "state": inv.state,
            "created_at": inv.created_at.isoformat(),
        }
        for inv in rows
    ]


def _pending(user: User, inv_id: str) -> VFolderInvitation:
    try:
        key = UUID(str(inv_id))
    except ValueError:
        raise VFolderInvitationNotFound() from None
    inv = (
        VFolderInvitation.objects.select_for_update()
        .filter(pk=key, invitee=user, state=InvitationState.PENDING)
        .first()
    )
    if inv is None:
        raise VFolderInvitationNotFound()
    return inv


def invitation_accept(*, user: User, inv_id: str) -> None:
    with transaction.atomic():
        inv = _pending(user, inv_id)
        VFolderPermission.objects.update_or_create(
            vfolder_id=inv.vfolder_id, user=user, defaults={"permission": inv.permission}
        )
        inv.state = InvitationState.ACCEPTED
        inv.save(update_fields=["state", "modified_at"])


def invitation_reject(*, user: User, inv_id: str) -> None:
    with transaction.atomic():
        inv = _pending(user, inv_id)
        inv.state = InvitationState.REJECTED
        inv.save(update_fields=["state", "modified_at"])


def vfolder_share(
    *, user: User, access: VFolderAccess, permission: str, emails: Sequence[str]
) -> list[str]:
    """Give project members an overriding permission on a project folder."""
    _perm_check(permission)
    vfolder = access.vfolder
    if vfolder.project_id is None:
        raise InvalidAPIParameters(
            "Only project folders are shared; invite users to a user folder."
        )
    if not _is_admin_of(user, vfolder.project):
        raise VFolderPermissionDenied("Only admins share project folders.")
    host_permission_require(
        user=user, host=vfolder.host, permission=VFolderHostPermission.SET_USER_PERM
    )
    users = _users_by_email(emails, domain_id=vfolder.domain_id)
    members = set(
        ProjectMembership.objects.filter(project_id=vfolder.project_id, user__in=users).values_list(
            "user_id", flat=True
        )
    )
    missing = sorted(set(emails) - {u.email for u in users if u.pk in members})
    if missing:
        raise VFolderUserNotFound(
            "Not members of the folder's project: " + ", ".join(missing), data={"emails": missing}
        )
    shared = []
    with transaction.atomic():
        for target in users:
            VFolderPermission.objects.update_or_create(
                vfolder=vfolder, user=target, defaults={"permission": permission}
            )
            shared.append(target.email)
    return shared


def vfolder_unshare(*, user: User, access: VFolderAccess, emails: Sequence[str]) -> list[str]:
    vfolder = access.vfolder
    if vfolder.project_id is None:
        raise InvalidAPIParameters("Only project folders are shared.")
    if not _is_admin_of(user, vfolder.project):
        raise VFolderPermissionDenied("Only admins unshare project folders.")
    rows = VFolderPermission.objects.filter(vfolder=vfolder, user__email__in=list(emails))
    unshared = list(rows.values_list("user__email", flat=True))
    rows.delete()
    return unshared


def vfolder_leave(*, user: User, access: VFolderAccess, shared_user_uuid: str | None) -> None:
    """Drop one's own (or, as the owner, someone's) access to a shared user folder."""
    vfolder = access.vfolder
    if vfolder.ownership_type != VFolderOwnership.USER:
        raise InvalidAPIParameters("You cannot leave a project folder.")
    leaver_id = user.pk
    if shared_user_uuid:
        try:
            leaver_id = UUID(str(shared_user_uuid))
        except ValueError:
            raise InvalidAPIParameters("shared_user_uuid must be a UUID.") from None
        if leaver_id != user.pk and not access.is_owner:
            raise VFolderPermissionDenied("Only the owner removes someone else's access.")
    elif access.is_owner:
        raise InvalidAPIParameters("You own this folder: delete it instead of leaving.")
    deleted, _ = VFolderPermission.objects.filter(vfolder=vfolder, user_id=leaver_id).delete()
    if not deleted:
        raise VFolderUserNotFound("That user has no access to leave.")
