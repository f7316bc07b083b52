from __future__ import annotations

from django.urls import path

from .views import (
    DomainDotfileView,
    ProjectDotfileView,
    TemplateCollectionView,
    TemplateDetailView,
    UserDotfileView,
)

urlpatterns = [
    path("template/session", TemplateCollectionView.as_view(), name="template-collection"),
    path(
        "template/session/<str:template_id>",
        TemplateDetailView.as_view(),
        name="template-detail",
    ),
    path("user-config/dotfiles", UserDotfileView.as_view(), name="user-dotfiles"),
    path("group-config/dotfiles", ProjectDotfileView.as_view(), name="group-dotfiles"),
    path("domain-config/dotfiles", DomainDotfileView.as_view(), name="domain-dotfiles"),
]
