"""Request bodies of the folder API (COMPAT.md section 6), validated with pydantic."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from backendai_site.common.errors import InvalidAPIParameters

from .enums import VFolderPermissionMode, VFolderUsageMode


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VFolderCreateBody(_Body):
    name: str = Field(min_length=1, max_length=64)
    host: str | None = None
    group: str | None = None
    unmanaged_path: str | None = None
    usage_mode: VFolderUsageMode = VFolderUsageMode.GENERAL
    permission: VFolderPermissionMode = VFolderPermissionMode.READ_WRITE
    cloneable: bool = False


class NameBody(_Body):
    name: str = Field(min_length=1, max_length=64)


class IdBody(_Body):
    id: str = Field(min_length=1, max_length=64)


class RenameBody(_Body):
    new_name: str = Field(min_length=1, max_length=64)


class MkdirBody(_Body):
    path: list[str] = Field(min_length=1, max_length=1000)
    parents: bool = False
    exist_ok: bool = False

    @field_validator("path", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RenameFileBody(_Body):
    target_path: str
    new_name: str


class MoveFileBody(_Body):
    src: str
    dst: str


class DeleteFilesBody(_Body):
    files: list[str] = Field(min_length=1, max_length=10_000)
    recursive: bool = False


class UpdateOptionsBody(_Body):
    cloneable: bool | None = None
    permission: VFolderPermissionMode | None = None


class ShareBody(_Body):
    permission: VFolderPermissionMode = VFolderPermissionMode.READ_WRITE
    emails: list[str] = Field(min_length=1, max_length=1000)


class UnshareBody(_Body):
    emails: list[str] = Field(min_length=1, max_length=1000)


class InviteBody(_Body):
    perm: VFolderPermissionMode = VFolderPermissionMode.READ_WRITE
    user_ids: list[str] = Field(min_length=1, max_length=1000)


class InvitationBody(_Body):
    inv_id: str


class LeaveBody(_Body):
    shared_user_uuid: str | None = None


class CloneBody(_Body):
    target_name: str = Field(min_length=1, max_length=64)
    target_host: str | None = None
    usage_mode: VFolderUsageMode = VFolderUsageMode.GENERAL
    permission: VFolderPermissionMode = VFolderPermissionMode.READ_WRITE


class RequestUploadBody(_Body):
    path: str
    size: int = Field(ge=0)


class RequestDownloadBody(_Body):
    path: str


class SharedQuery(_Body):
    """`GET /folders/_/shared`: every share the caller administers, or one folder's."""

    vfolder_id: UUID | None = Field(
        default=None, validation_alias=AliasChoices("vfolder_id", "vfolderId")
    )


class UpdateSharedBody(_Body):
    """`POST /folders/_/shared`: set an invitee's permission, or remove it (`perm` null)."""

    vfolder: UUID
    user: UUID
    perm: VFolderPermissionMode | None = Field(
        default=None, validation_alias=AliasChoices("perm", "permission")
    )


class ChangeOwnershipBody(_Body):
    vfolder: UUID
    user_email: str = Field(min_length=1, max_length=254)


class PerfMetricQuery(_Body):
    folder_host: str = Field(min_length=1, max_length=128)


class FstabQuery(_Body):
    agent_id: str | None = Field(default=None, max_length=64)
    fstab_path: str | None = Field(default=None, max_length=1024)


def parse_body[T: BaseModel](model: type[T], data: Any) -> T:
    """Validate a request body; every problem becomes one invalid-api-params error."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
        raise InvalidAPIParameters(
            "; ".join(f"{k}: {v}" for k, v in fields.items()), data=fields
        ) from None
