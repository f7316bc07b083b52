"""`POST /resource/check-presets` and `POST /resource/recalculate-usage`: thin views over
`sessions_app.selectors_capacity` and `sessions_app.services.usage_recalculate`."""

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
from sessions_app.services.usage_recalculate import agents_usage_recalculate


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


class RecalculateUsageView(APIView):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        keypair = request.auth
        assert isinstance(keypair, KeyPair)
        corrections = agents_usage_recalculate(actor=keypair.user)
        return Response(
            {
                "corrections": [
                    {"agent_id": c.agent_id, "slot": c.slot_name,
                     "was": str(c.was), "now": str(c.now)}
                    for c in corrections
                ]
            }
        )  # fmt: skip
