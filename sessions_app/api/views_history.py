"""`POST /scheduling-history/sessions/search`: thin view over `sessions_app.selectors_history`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from backendai_site.common.api.payloads import payload_parse
from sessions_app.selectors_history import SessionHistorySearch, session_history_search


class SessionHistorySearchView(APIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        body = request.data if request.data is not None else {}
        search = payload_parse(SessionHistorySearch, body, what="scheduling-history search")
        keypair = request.auth
        assert isinstance(keypair, KeyPair)
        page = session_history_search(actor=keypair, search=search)
        return Response(
            {
                "items": page.items,
                "pagination": {"total": page.total, "offset": page.offset, "limit": page.limit},
            }
        )
