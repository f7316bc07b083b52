from __future__ import annotations

from django.urls import path

from . import views as v
from .streams import bgtask_events

urlpatterns = [
    path("folders", v.FolderCollectionView.as_view(), name="vfolder-collection"),
    path("folders/_/hosts", v.HostsView.as_view(), name="vfolder-hosts"),
    path("folders/_/all_hosts", v.AllHostsView.as_view(), name="vfolder-all-hosts"),
    path("folders/_/allowed_types", v.AllowedTypesView.as_view(), name="vfolder-allowed-types"),
    path("config/vfolder-types", v.AllowedTypesView.as_view(), name="config-vfolder-types"),
    path("folders/_/id", v.IdByNameView.as_view(), name="vfolder-id"),
    path("folders/_/shared", v.SharedView.as_view(), name="vfolder-shared"),
    path(
        "folders/_/change-ownership",
        v.ChangeOwnershipView.as_view(),
        name="vfolder-change-ownership",
    ),
    path("folders/_/mounts", v.MountsView.as_view(), name="vfolder-mounts"),
    path("folders/_/perf-metric", v.PerfMetricView.as_view(), name="vfolder-perf-metric"),
    path("folders/_/fstab", v.FstabView.as_view(), name="vfolder-fstab"),
    path("folders/purge", v.PurgeView.as_view(), name="vfolder-purge"),
    path("folders/delete-from-trash-bin", v.PurgeView.as_view(), name="vfolder-delete-trash"),
    path("folders/restore-from-trash-bin", v.RestoreView.as_view(), name="vfolder-restore"),
    path("folders/invitations/list", v.InvitationListView.as_view(), name="vfolder-invitations"),
    path("folders/invitations/accept", v.InvitationAcceptView.as_view(), name="vfolder-inv-accept"),
    path("folders/invitations/delete", v.InvitationRejectView.as_view(), name="vfolder-inv-reject"),
    path("folders/<str:ref>", v.FolderDetailView.as_view(), name="vfolder-detail"),
    path("folders/<str:ref>/rename", v.RenameView.as_view(), name="vfolder-rename"),
    path("folders/<str:ref>/update-options", v.UpdateOptionsView.as_view(), name="vfolder-options"),
    path("folders/<str:ref>/files", v.FilesView.as_view(), name="vfolder-files"),
    path("folders/<str:ref>/mkdir", v.MkdirView.as_view(), name="vfolder-mkdir"),
    path("folders/<str:ref>/rename-file", v.RenameFileView.as_view(), name="vfolder-rename-file"),
    path("folders/<str:ref>/move-file", v.MoveFileView.as_view(), name="vfolder-move-file"),
    path(
        "folders/<str:ref>/delete-files", v.DeleteFilesView.as_view(), name="vfolder-delete-files"
    ),
    path("folders/<str:ref>/request-upload", v.RequestUploadView.as_view(), name="vfolder-upload"),
    path(
        "folders/<str:ref>/request-download",
        v.RequestDownloadView.as_view(),
        name="vfolder-download",
    ),
    path("folders/<str:ref>/invite", v.InviteView.as_view(), name="vfolder-invite"),
    path("folders/<str:ref>/share", v.ShareView.as_view(), name="vfolder-share"),
    path("folders/<str:ref>/unshare", v.UnshareView.as_view(), name="vfolder-unshare"),
    path("folders/<str:ref>/leave", v.LeaveView.as_view(), name="vfolder-leave"),
    path("folders/<str:ref>/clone", v.CloneView.as_view(), name="vfolder-clone"),
    path("events/background-task", bgtask_events, name="bgtask-events"),
]
