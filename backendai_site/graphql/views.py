"""`POST /admin/gql` (and `/admin/graphql`): signed like every API call; GraphQL errors come back
with HTTP 200 in `errors`, as the official client expects, except an unreachable database: that
is the API's 503 `database-unavailable`, as for every other view. A request is parsed and validated
within the bounds of `limits.py` (depth, aliases, cost, size) before anything is resolved."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from graphql import ExecutionResult, GraphQLError, execute, validate
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.common.api.exception_handler import is_database_unreachable
from backendai_site.common.errors import DatabaseUnavailable, InvalidAPIParameters

from .limits import query_parse, validation_rules
from .schema import schema


class GraphQLView(APIView):
    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        query = body.get("query")
        variables = body.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            raise InvalidAPIParameters("A GraphQL request needs a query string and variables.")
        payload: dict[str, Any] = {"data": None}
        try:
            document = query_parse(query)
        except GraphQLError as error:
            return Response({**payload, "errors": [_error(error)]})
        errors = validate(schema.graphql_schema, document, rules=validation_rules(), max_errors=20)
        if errors:
            return Response({**payload, "errors": [_error(error) for error in errors]})
        result = execute(
            schema.graphql_schema,
            document,
            context_value={"keypair": request.auth},
            variable_values=variables,
        )
        assert isinstance(result, ExecutionResult)  # no async resolvers in this schema
        if any(is_database_unreachable(error.original_error) for error in result.errors or ()):
            raise DatabaseUnavailable()
        payload["data"] = result.data
        if result.errors:
            payload["errors"] = [_error(error) for error in result.errors]
        return Response(payload)


def _error(error: GraphQLError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.message, "path": error.path}
    if error.extensions:
        body["extensions"] = error.extensions
    return body
