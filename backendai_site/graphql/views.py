"""`POST /admin/gql` (and `/admin/graphql`): signed like every API call; GraphQL errors come back
with HTTP 200 in `errors`, as the official client expects."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.common.errors import InvalidAPIParameters

from .schema import schema


class GraphQLView(APIView):
    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        query = body.get("query")
        variables = body.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            raise InvalidAPIParameters("A GraphQL request needs a query string and variables.")
        result = schema.execute(query, variables=variables, context_value={"keypair": request.auth})
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [
                {"message": error.message, "path": getattr(error, "path", None)}
                for error in result.errors
            ]
        return Response(payload)
