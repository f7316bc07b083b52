"""`GET /scheduler/dry-run?resource_group=`: thin view over `sessions_app.scheduler.dry_run`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from pydantic import BaseModel, ConfigDict
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from backendai_site.common.api.payloads import payload_parse
from backendai_site.common.validation import Text64
from sessions_app.scheduler.dry_run import scheduler_dry_run


class DryRunQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_group: Text64


class SchedulerDryRunView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("resource_group", str, required=True)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        query = payload_parse(DryRunQuery, request.query_params.dict(), what="dry-run query")
        keypair = request.auth
        assert isinstance(keypair, KeyPair)
        return Response(scheduler_dry_run(actor=keypair.user, resource_group=query.resource_group))
