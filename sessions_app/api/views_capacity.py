"""`POST /resource/check-presets`: thin view over `sessions_app.selectors_capacity`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from pydantic import BaseModel, ConfigDict
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from backendai_site.common.api.payloads import payload_parse
from backendai_site.common.validation import Text64
from sessions_app.selectors_capacity import presets_check


class CheckPresetsRequest(BaseModel):
    """`{"group": <project name or id>, "scaling_group": <name>}`; both optional."""

    model_config = ConfigDict(extra="ignore")

    group: Text64 | None = None
    scaling_group: Text64 | None = None


class CheckPresetsView(APIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        body = request.data if request.data is not None else {}
        params = payload_parse(CheckPresetsRequest, body, what="check-presets request")
        keypair = request.auth
        assert isinstance(keypair, KeyPair)
        return Response(
            presets_check(keypair=keypair, group=params.group, scaling_group=params.scaling_group)
        )
