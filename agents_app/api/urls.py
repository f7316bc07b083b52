from __future__ import annotations

from django.urls import path

from .views import (
    ContainerRegistriesView,
    ResourcePresetListView,
    ResourceSlotsView,
    ScalingGroupsView,
)

urlpatterns = [
    path("resource/presets", ResourcePresetListView.as_view(), name="resource-presets"),
    path(
        "resource/container-registries",
        ContainerRegistriesView.as_view(),
        name="resource-container-registries",
    ),
    path("config/resource-slots", ResourceSlotsView.as_view(), name="config-resource-slots"),
    path("scaling-groups", ScalingGroupsView.as_view(), name="scaling-groups"),
]
