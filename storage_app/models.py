"""Storage volumes, virtual folders, their shares and invitations."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from backendai_site.accounts.models import Domain, Project, User

from .enums import (
    InvitationState,
    VFolderOwnership,
    VFolderPermissionMode,
    VFolderStatus,
    VFolderUsageMode,
)

_LIVE = Q(status__in=sorted(VFolderStatus.live()))


class StorageVolume(models.Model):
    """A POSIX path (local disk, NFS, CephFS) folders live on, named like `local:volume1`."""

    name = models.CharField(max_length=128, unique=True, help_text="Host name, e.g. local:volume1")
    backend = models.CharField(max_length=32, default="vfs")
    mount_path = models.CharField(max_length=1024)
    capabilities = models.JSONField(default=list, blank=True)
    options = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class VFolder(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=64)
    volume = models.ForeignKey(StorageVolume, on_delete=models.PROTECT, related_name="vfolders")
    host = models.CharField(max_length=128)
    quota_scope_id = models.CharField(max_length=64, help_text="user:<uuid> or project:<uuid>")
    usage_mode = models.CharField(
        max_length=16, choices=VFolderUsageMode.choices, default=VFolderUsageMode.GENERAL
    )
    permission = models.CharField(
        max_length=2, choices=VFolderPermissionMode.choices, default=VFolderPermissionMode.RW_DELETE
    )
    ownership_type = models.CharField(
        max_length=8, choices=VFolderOwnership.choices, default=VFolderOwnership.USER
    )
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="vfolders"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="vfolders"
    )
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="vfolders")
    creator = models.CharField(max_length=254, blank=True, default="")
    cloneable = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=VFolderStatus.choices, default=VFolderStatus.READY
    )
    status_changed = models.DateTimeField(auto_now_add=True)
    max_files = models.PositiveIntegerField(default=0, help_text="0 means no limit.")
    max_size = models.BigIntegerField(null=True, blank=True, help_text="Bytes; empty = no limit.")
    num_files = models.BigIntegerField(default=0)
    cur_size = models.BigIntegerField(default=0, help_text="Bytes used.")
    usage_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("name",)
        verbose_name = "virtual folder"
        constraints = [
            models.UniqueConstraint(
                fields=("user", "name"),
                condition=_LIVE & Q(user__isnull=False),
                name="uniq_live_vfolder_name_per_user",
            ),
            models.UniqueConstraint(
                fields=("project", "name"),
                condition=_LIVE & Q(project__isnull=False),
                name="uniq_live_vfolder_name_per_project",
            ),
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(project__isnull=True))
                | (Q(user__isnull=True) & Q(project__isnull=False)),
                name="vfolder_one_owner",
            ),
        ]
        indexes = [models.Index(fields=("quota_scope_id", "status"))]

    def __str__(self) -> str:
        return self.name


class VFolderPermission(models.Model):
    """A user's access to a folder they do not own: an accepted invitation or a project share."""

    vfolder = models.ForeignKey(VFolder, on_delete=models.CASCADE, related_name="permissions")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="vfolder_permissions")
    permission = models.CharField(max_length=2, choices=VFolderPermissionMode.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("vfolder", "user"), name="uniq_vfolder_permission")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.permission} on {self.vfolder_id}"


class VFolderInvitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vfolder = models.ForeignKey(VFolder, on_delete=models.CASCADE, related_name="invitations")
    inviter = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    invitee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="vfolder_invitations")
    permission = models.CharField(max_length=2, choices=VFolderPermissionMode.choices)
    state = models.CharField(
        max_length=16, choices=InvitationState.choices, default=InvitationState.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("vfolder", "invitee"),
                condition=Q(state="pending"),
                name="uniq_pending_vfolder_invitation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.inviter_id} -> {self.invitee_id} ({self.state})"


class UploadReservation(models.Model):
    """Bytes a granted request-upload may still write. They count against the quota scope until
    the upload finishes or its token expires, so concurrent request-uploads cannot together pass
    the quota that each alone fits."""

    upload_id = models.CharField(max_length=32, primary_key=True)
    vfolder = models.ForeignKey(VFolder, on_delete=models.CASCADE, related_name="reservations")
    quota_scope_id = models.CharField(max_length=64)
    size = models.BigIntegerField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=("quota_scope_id", "expires_at"))]

    def __str__(self) -> str:
        return f"{self.size} bytes for upload {self.upload_id}"


class QuotaScopeLimit(models.Model):
    """An administrator's hard limit on one quota scope (`user:<uuid>` or `project:<uuid>`) of one
    volume (`admin quota-scope set`). While it exists it replaces the owner's resource policy
    `max_quota_scope_size` for that scope on that volume; a folder's own `max_size` still caps
    the folder."""

    volume = models.ForeignKey(
        StorageVolume, on_delete=models.CASCADE, related_name="quota_scope_limits"
    )
    quota_scope_id = models.CharField(max_length=64)
    hard_limit_bytes = models.BigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("volume", "quota_scope_id"), name="uniq_quota_scope_limit"
            ),
            models.CheckConstraint(
                condition=models.Q(hard_limit_bytes__gt=0), name="quota_scope_limit_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quota_scope_id} on {self.volume_id}: {self.hard_limit_bytes} bytes"
