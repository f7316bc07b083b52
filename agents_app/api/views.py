"""Thin views of the capacity catalog the official client reads (docs/compat/rest-extras.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from pydantic import BaseModel, ConfigDict, Field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.selectors import (
    container_registries_described,
    project_for_keypair,
    resource_group_usable_get,
    resource_groups_usable,
    resource_preset_row,
    resource_presets_for,
    resource_slot_types,
)
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair
from backendai_site.common.api.payloads import payload_parse
from backendai_site.common.errors import PermissionDenied
from backendai_site.common.validation import Text64


def _keypair(request: Request) -> KeyPair:
    auth = request.auth
    assert isinstance(auth, KeyPair)
    return auth


class PresetListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scaling_group: Text64 | None = None
    group: Text64 | None = None


class ScalingGroupsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    group: Text64 = Field(min_length=1)


class ResourcePresetListView(APIView):
    """`GET /resource/presets[?scaling_group=]`: presets offered everywhere plus those of the
    resource groups the caller may use (of `scaling_group` only, when given)."""

    @extend_schema(
        parameters=[OpenApiParameter("scaling_group", OpenApiTypes.STR, required=False)],
        responses=inline_serializer("ResourcePresetList", {"presets": serializers.ListField()}),
    )
    def get(self, request: Request) -> Response:
        query = payload_parse(PresetListQuery, request.query_params.dict(), what="query")
        keypair = _keypair(request)
        project = project_for_keypair(keypair=keypair, ref=query.group)
        if query.scaling_group:
            groups: Any = [
                resource_group_usable_get(
                    keypair=keypair, project=project, name=query.scaling_group
                )
            ]
        else:
            groups = resource_groups_usable(keypair=keypair, project=project)
        presets = resource_presets_for(groups=groups)
        return Response({"presets": [resource_preset_row(p) for p in presets]})


class ResourceSlotsView(APIView):
    """`GET /config/resource-slots`: `{"cpu": "count", "mem": "bytes", ...}`."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(resource_slot_types())


class ScalingGroupsView(APIView):
    """`GET /scaling-groups?group=<project name or id>`: the groups the caller may use there."""

    @extend_schema(
        parameters=[OpenApiParameter("group", OpenApiTypes.STR, required=True)],
        responses=inline_serializer(
            "ScalingGroupsAvailable", {"scaling_groups": serializers.ListField()}
        ),
    )
    def get(self, request: Request) -> Response:
        query = payload_parse(ScalingGroupsQuery, request.query_params.dict(), what="query")
        keypair = _keypair(request)
        project = project_for_keypair(keypair=keypair, ref=query.group)
        names = resource_groups_usable(keypair=keypair, project=project).values_list(
            "name", flat=True
        )
        return Response({"scaling_groups": [{"name": name} for name in names]})


class ContainerRegistriesView(APIView):
    """`GET /resource/container-registries` (superadmin): registries by name."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        if _keypair(request).user.role != UserRole.SUPERADMIN:
            raise PermissionDenied("Only a superadmin may list the container registries.")
        return Response(container_registries_described())
