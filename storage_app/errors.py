"""Errors of the storage app, each with its own stable type."""

from __future__ import annotations

from backendai_site.common.errors import (
    Conflict,
    InvalidAPIParameters,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)


class VFolderNotFound(NotFound):
    error_type = "vfolder-not-found"
    title = "Virtual folder not found."


class VFolderAlreadyExists(Conflict):
    error_type = "vfolder-already-exists"
    title = "A virtual folder with the same name already exists."


class VFolderInvalidName(InvalidAPIParameters):
    error_type = "vfolder-invalid-name"
    title = "Invalid virtual folder name."


class VFolderHostNotAllowed(InvalidAPIParameters):
    error_type = "vfolder-host-not-allowed"
    title = "The storage host is unknown or not allowed for you."


class VFolderPermissionDenied(PermissionDenied):
    error_type = "vfolder-permission-denied"
    title = "Your permission on this virtual folder does not allow this."


class VFolderBadStatus(Conflict):
    error_type = "vfolder-bad-status"
    title = "The virtual folder is not in a state that allows this."


class VFolderInUse(Conflict):
    error_type = "vfolder-in-use"
    title = "The virtual folder is mounted by a live session."


class VFolderQuotaExceeded(InvalidAPIParameters):
    error_type = "vfolder-quota-exceeded"
    title = "The storage quota would be exceeded."


class VFolderCountLimit(InvalidAPIParameters):
    error_type = "vfolder-count-limit"
    title = "You cannot create more virtual folders."


class VFolderUnsafePath(InvalidAPIParameters):
    error_type = "vfolder-unsafe-path"
    title = "The path is not allowed inside a virtual folder."


class VFolderFileNotFound(NotFound):
    error_type = "vfolder-file-not-found"
    title = "No such file or directory in the virtual folder."


class VFolderFileExists(Conflict):
    error_type = "vfolder-file-exists"
    title = "The file or directory already exists."


class VFolderInvitationNotFound(NotFound):
    error_type = "vfolder-invitation-not-found"
    title = "No such invitation."


class VFolderUserNotFound(NotFound):
    error_type = "vfolder-user-not-found"
    title = "No such user."


class VFolderTransferTokenInvalid(PermissionDenied):
    error_type = "vfolder-transfer-token-invalid"
    title = "The transfer token is invalid or expired."


class VFolderUploadConflict(Conflict):
    error_type = "vfolder-upload-conflict"
    title = "The upload offset does not match, or another request is writing this upload."


class StorageVolumeUnavailable(ServiceUnavailable):
    error_type = "storage-volume-unavailable"
    title = "The storage volume is not reachable."


class QuotaScopeNotFound(NotFound):
    error_type = "quota-scope-not-found"
    title = "Quota scope not found."


class VFolderHostPermissionDenied(PermissionDenied):
    error_type = "vfolder-host-permission-denied"
    title = "The storage host does not allow this for you."


class VFolderShareNotFound(NotFound):
    error_type = "vfolder-share-not-found"
    title = "The user has no share of this virtual folder."


class StorageVolumeNotFound(NotFound):
    error_type = "storage-volume-not-found"
    title = "No such storage host."


class StoragePerfMetricUnsupported(InvalidAPIParameters):
    error_type = "storage-perf-metric-unsupported"
    title = "The storage host's backend measures no performance metrics."


class NodeFstabUnavailable(InvalidAPIParameters):
    error_type = "node-fstab-unavailable"
    title = "That node's fstab cannot be read through the API."
