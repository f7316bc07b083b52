"""`POST /fair-share/usage-buckets/{domains,projects,users}/search`: thin views over
`sessions_app.selectors_usage_buckets` (the official client's `resource-usage ... list`)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from backendai_site.common.api.payloads import payload_parse
from sessions_app.selectors_usage_buckets import BucketLevel, BucketSearch, buckets_search


class _BucketSearchView(APIView):
    level: BucketLevel

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        body = request.data if request.data is not None else {}
        search = payload_parse(BucketSearch, body, what="usage bucket search")
        keypair = request.auth
        assert isinstance(keypair, KeyPair)
        page = buckets_search(actor=keypair.user, level=self.level, search=search)
        return Response(
            {
                "items": page.items,
                "pagination": {"total": page.total, "offset": page.offset, "limit": page.limit},
            }
        )


class DomainBucketSearchView(_BucketSearchView):
    level = BucketLevel.DOMAIN


class ProjectBucketSearchView(_BucketSearchView):
    level = BucketLevel.PROJECT


class UserBucketSearchView(_BucketSearchView):
    level = BucketLevel.USER
