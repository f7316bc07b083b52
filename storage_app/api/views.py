"""Thin DRF views of the folder API (COMPAT.md section 6); the logic lives in services."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, User
from backendai_site.common.errors import InvalidAPIParameters, PermissionDenied
from backendai_site.config import get_config
from storage_app import schemas as s
from storage_app.enums import VFolderOwnership, VFolderStatus
from storage_app.models import StorageVolume, VFolder
from storage_app.selectors import (
    VFolderAccess,
    vfolder_resolve,
    vfolders_accessible_to,
    vfolders_listable_by,
    volumes_allowed_for,
)
from storage_app.services import administration, files, folders, sharing, transfer
from storage_app.services.clone import vfolder_clone_start
from storage_app.services.volumes import default_volume_ensure, volume_backend


def _user(request: Request) -> User:
    keypair = request.auth
    assert isinstance(keypair, KeyPair)
    return keypair.user


def _access(request: Request, ref: str, statuses: frozenset[str] | None = None) -> VFolderAccess:
    return vfolder_resolve(
        user=_user(request), ref=ref, statuses=statuses or VFolderStatus.usable()
    )


def vfolder_output(vfolder: VFolder, *, access: VFolderAccess | None = None) -> dict[str, Any]:
    return {
        "id": vfolder.pk.hex,
        "name": vfolder.name,
        "quota_scope_id": vfolder.quota_scope_id,
        "host": vfolder.host,
        "usage_mode": vfolder.usage_mode,
        "permission": access.permission if access else vfolder.permission,
        "max_size": vfolder.max_size,
        "creator": vfolder.creator,
        "ownership_type": vfolder.ownership_type,
        "user": str(vfolder.user_id) if vfolder.user_id else None,
        "group": str(vfolder.project_id) if vfolder.project_id else None,
        "cloneable": vfolder.cloneable,
        "status": vfolder.status,
        "is_owner": access.is_owner if access else None,
        "created_at": vfolder.created_at.isoformat(),
        "last_used": vfolder.last_used.isoformat() if vfolder.last_used else None,
        "numFiles": vfolder.num_files,
        "num_files": vfolder.num_files,
        "cur_size": vfolder.cur_size,
        "used_bytes": vfolder.cur_size,
        "type": "group" if vfolder.ownership_type == VFolderOwnership.PROJECT else "user",
    }


def _volume_info(volume: StorageVolume) -> dict[str, Any]:
    try:
        capacity, used = volume_backend(volume).volume_usage()
    except OSError:
        capacity = used = -1
    return {
        "backend": volume.backend,
        "capabilities": volume.capabilities,
        "usage": {"capacity_bytes": capacity, "used_bytes": used},
        "sftp_scaling_groups": [],
    }


class HostsView(APIView):
    """`GET /folders/_/hosts`: the default host and those the caller may use."""

    def get(self, request: Request) -> Response:
        default_volume_ensure()
        volumes = volumes_allowed_for(user=_user(request))
        return Response(
            {
                "default": get_config().storage.default_host,
                "allowed": [v.name for v in volumes],
                "volume_info": {v.name: _volume_info(v) for v in volumes},
            }
        )


class AllHostsView(APIView):
    def get(self, request: Request) -> Response:
        if _user(request).role != UserRole.SUPERADMIN:
            raise PermissionDenied("Only superadmins list every storage host.")
        default_volume_ensure()
        names = list(StorageVolume.objects.order_by("name").values_list("name", flat=True))
        return Response({"default": get_config().storage.default_host, "allowed": names})


class AllowedTypesView(APIView):
    def get(self, request: Request) -> Response:
        return Response(["user", "group"])


class IdByNameView(APIView):
    """`GET /folders/_/id` with `{"name"}`: the id of a folder the caller can see."""

    def get(self, request: Request) -> Response:
        body = s.parse_body(s.NameBody, request.data)
        access = vfolder_resolve(user=_user(request), ref=body.name)
        return Response({"id": access.vfolder.pk.hex, "name": access.vfolder.name})


class FolderCollectionView(APIView):
    def post(self, request: Request) -> Response:
        body = s.parse_body(s.VFolderCreateBody, request.data)
        vfolder = folders.vfolder_create(
            user=_user(request),
            request=folders.VFolderCreate(
                name=body.name,
                host=body.host,
                group=body.group,
                usage_mode=body.usage_mode,
                permission=body.permission,
                cloneable=body.cloneable,
                unmanaged_path=body.unmanaged_path,
            ),
        )
        out = vfolder_output(vfolder)
        out["is_owner"] = vfolder.user_id == _user(request).pk
        return Response(out, status=201)

    def get(self, request: Request) -> Response:
        user = _user(request)
        list_all = (
            bool((request.data or {}).get("all")) if isinstance(request.data, dict) else False
        )
        qs = vfolders_listable_by(user=user) if list_all else vfolders_accessible_to(user=user)
        rows = qs.select_related("volume").order_by("name")[:1000]
        return Response([vfolder_output(v) for v in rows])

    def delete(self, request: Request) -> Response:
        body = s.parse_body(s.IdBody, request.data)
        folders.vfolder_trash(user=_user(request), access=_access(request, body.id))
        return Response(status=204)


class FolderDetailView(APIView):
    def get(self, request: Request, ref: str) -> Response:
        access = vfolder_resolve(user=_user(request), ref=ref)
        return Response(vfolder_output(access.vfolder, access=access))


class RenameView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.RenameBody, request.data)
        folders.vfolder_rename(
            user=_user(request), access=_access(request, ref), new_name=body.new_name
        )
        return Response(status=201)


class UpdateOptionsView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.UpdateOptionsBody, request.data)
        folders.vfolder_update_options(
            user=_user(request),
            access=_access(request, ref),
            permission=body.permission,
            cloneable=body.cloneable,
        )
        return Response(status=201)


_TRASHED = frozenset({VFolderStatus.DELETE_PENDING, VFolderStatus.DELETE_ERROR})


class RestoreView(APIView):
    def post(self, request: Request) -> Response:
        body = s.parse_body(s.IdBody, request.data)
        access = _access(request, body.id, frozenset({VFolderStatus.DELETE_PENDING}))
        folders.vfolder_restore(user=_user(request), access=access)
        return Response(status=204)


class PurgeView(APIView):
    """`POST /folders/purge` and `POST /folders/delete-from-trash-bin`: delete for good."""

    def post(self, request: Request) -> Response:
        body = s.parse_body(s.IdBody, request.data)
        access = _access(request, body.id, _TRASHED | VFolderStatus.usable())
        folders.vfolder_purge(user=_user(request), access=access)
        return Response(status=204)


class FilesView(APIView):
    def get(self, request: Request, ref: str) -> Response:
        path = request.query_params.get("path")
        if path is None and isinstance(request.data, dict):
            path = request.data.get("path")
        items = files.files_list(access=_access(request, ref), path=str(path or "."))
        return Response({"items": items, "files": items})


class MkdirView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.MkdirBody, request.data)
        results = files.files_mkdir(
            access=_access(request, ref), paths=body.path, parents=body.parents,
            exist_ok=body.exist_ok,
        )  # fmt: skip
        status = 201 if not results["failed"] else (207 if results["success"] else 200)
        return Response({"results": results}, status=status)


class RenameFileView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.RenameFileBody, request.data)
        files.files_rename(
            access=_access(request, ref), target_path=body.target_path, new_name=body.new_name
        )
        return Response({})


class MoveFileView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.MoveFileBody, request.data)
        files.files_move(access=_access(request, ref), src=body.src, dst=body.dst)
        return Response({})


class DeleteFilesView(APIView):
    def delete(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.DeleteFilesBody, request.data)
        files.files_delete(access=_access(request, ref), files=body.files, recursive=body.recursive)
        return Response({})


class RequestUploadView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.RequestUploadBody, request.data)
        token = transfer.upload_request(
            access=_access(request, ref), path=body.path, size=body.size
        )
        base = request.build_absolute_uri("/")
        return Response(
            {"token": token.dump(), "url": transfer.transfer_url(base, transfer.UPLOAD_PATH)}
        )


class RequestDownloadView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.RequestDownloadBody, request.data)
        token = transfer.download_request(access=_access(request, ref), path=body.path)
        base = request.build_absolute_uri("/")
        return Response(
            {"token": token.dump(), "url": transfer.transfer_url(base, transfer.DOWNLOAD_PATH)}
        )


class InviteView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.InviteBody, request.data)
        invited = sharing.vfolder_invite(
            inviter=_user(request), access=_access(request, ref), permission=body.perm,
            emails=body.user_ids,
        )  # fmt: skip
        return Response({"invited_ids": invited}, status=201)


class InvitationListView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"invitations": sharing.invitations_pending(user=_user(request))})


class InvitationAcceptView(APIView):
    def post(self, request: Request) -> Response:
        body = s.parse_body(s.InvitationBody, request.data)
        sharing.invitation_accept(user=_user(request), inv_id=body.inv_id)
        return Response({})


class InvitationRejectView(APIView):
    def delete(self, request: Request) -> Response:
        body = s.parse_body(s.InvitationBody, request.data)
        sharing.invitation_reject(user=_user(request), inv_id=body.inv_id)
        return Response({})


class ShareView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.ShareBody, request.data)
        shared = sharing.vfolder_share(
            user=_user(request), access=_access(request, ref), permission=body.permission,
            emails=body.emails,
        )  # fmt: skip
        return Response({"shared_emails": shared}, status=201)


class UnshareView(APIView):
    def delete(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.UnshareBody, request.data)
        unshared = sharing.vfolder_unshare(
            user=_user(request), access=_access(request, ref), emails=body.emails
        )
        return Response({"unshared_emails": unshared})


class LeaveView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.LeaveBody, request.data)
        sharing.vfolder_leave(
            user=_user(request),
            access=_access(request, ref),
            shared_user_uuid=body.shared_user_uuid,
        )
        return Response({"msg": "left the shared folder"})


class CloneView(APIView):
    def post(self, request: Request, ref: str) -> Response:
        body = s.parse_body(s.CloneBody, request.data)
        if body.target_name == "":
            raise InvalidAPIParameters("target_name is required.")
        task_id, target = vfolder_clone_start(
            user=_user(request),
            access=_access(request, ref),
            target_name=body.target_name,
            target_host=body.target_host,
            usage_mode=body.usage_mode,
            permission=body.permission,
        )
        out = vfolder_output(target)
        out["bgtask_id"] = str(task_id)
        return Response(out, status=201)


def _query(request: Request) -> dict[str, Any]:
    return {key: request.query_params.get(key) for key in request.query_params}


class SharedView(APIView):
    """`GET /folders/_/shared` (optionally `?vfolder_id=`): shares of the folders one administers;
    `POST` with `{vfolder, user, perm}`: change an invitee's permission, or remove it (`perm`
    null)."""

    def get(self, request: Request) -> Response:
        query = s.parse_body(s.SharedQuery, _query(request))
        shared = administration.shares_list(actor=_user(request), vfolder_id=query.vfolder_id)
        return Response({"shared": shared})

    def post(self, request: Request) -> Response:
        body = s.parse_body(s.UpdateSharedBody, request.data)
        permission = body.perm.value if body.perm is not None else None
        administration.share_update(
            actor=_user(request), vfolder_id=body.vfolder, user_id=body.user, permission=permission
        )
        return Response({"msg": "shared vfolder permission updated"})


class ChangeOwnershipView(APIView):
    def post(self, request: Request) -> Response:
        body = s.parse_body(s.ChangeOwnershipBody, request.data)
        administration.vfolder_ownership_change(
            actor=_user(request), vfolder_id=body.vfolder, user_email=body.user_email
        )
        return Response({"msg": ""})


class MountsView(APIView):
    """`GET /folders/_/mounts`. Mounting and unmounting filesystems on this host from an API call
    (`POST`/`DELETE`) is not offered: the method is not allowed."""

    def get(self, request: Request) -> Response:
        return Response(administration.volumes_mounts(actor=_user(request)))


class PerfMetricView(APIView):
    def get(self, request: Request) -> Response:
        query = s.parse_body(s.PerfMetricQuery, _query(request))
        return Response(
            administration.volume_perf_metric(actor=_user(request), folder_host=query.folder_host)
        )


class FstabView(APIView):
    def get(self, request: Request) -> Response:
        query = s.parse_body(s.FstabQuery, _query(request))
        return Response(
            administration.fstab_contents(
                actor=_user(request), agent_id=query.agent_id, fstab_path=query.fstab_path
            )
        )
