"""The `/fair-share/*` routes (docs/compat/fair-share.md)."""

from __future__ import annotations

from django.urls import path

from . import views_fair_share as views

_RG = "fair-share/rg/<str:group>"
_RG_PROJECT = f"{_RG}/domains/<str:domain>/projects/<uuid:project>"

urlpatterns = [
    path("fair-share/domains/search", views.DomainSearchView.as_view()),
    path("fair-share/projects/search", views.ProjectSearchView.as_view()),
    path("fair-share/users/search", views.UserSearchView.as_view()),
    path("fair-share/domains/bulk-upsert-weight", views.DomainBulkWeightView.as_view()),
    path("fair-share/projects/bulk-upsert-weight", views.ProjectBulkWeightView.as_view()),
    path("fair-share/users/bulk-upsert-weight", views.UserBulkWeightView.as_view()),
    path("fair-share/domains/<str:group>/<str:domain>", views.DomainShareView.as_view()),
    path("fair-share/domains/<str:group>/<str:domain>/weight", views.DomainWeightView.as_view()),
    path("fair-share/projects/<str:group>/<uuid:project>", views.ProjectShareView.as_view()),
    path(
        "fair-share/projects/<str:group>/<uuid:project>/weight",
        views.ProjectWeightView.as_view(),
    ),
    path("fair-share/users/<str:group>/<uuid:project>/<uuid:user>", views.UserShareView.as_view()),
    path(
        "fair-share/users/<str:group>/<uuid:project>/<uuid:user>/weight",
        views.UserWeightView.as_view(),
    ),
    path("fair-share/resource-groups/specs", views.GroupSpecListView.as_view()),
    path("fair-share/resource-groups/<str:group>/spec", views.GroupSpecView.as_view()),
    path(f"{_RG}/usage-buckets/domains/search", views.RGDomainBucketView.as_view()),
    path(f"{_RG}/domains/<str:domain>", views.RGDomainView.as_view()),
    path(f"{_RG}/domains/<str:domain>/projects/search", views.RGProjectSearchView.as_view()),
    path(
        f"{_RG}/domains/<str:domain>/usage-buckets/projects/search",
        views.RGProjectBucketView.as_view(),
    ),
    path(_RG_PROJECT, views.RGProjectView.as_view()),
    path(f"{_RG_PROJECT}/users/search", views.RGUserSearchView.as_view()),
    path(f"{_RG_PROJECT}/users/<uuid:user>", views.RGUserView.as_view()),
    path(f"{_RG_PROJECT}/usage-buckets/users/search", views.RGUserBucketView.as_view()),
]
