"""The OpenAPI schema documents the problem+json errors of every operation."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

METHODS = ("get", "put", "post", "delete", "patch")


class TestErrorResponsesInSchema:
    def test_every_operation_documents_its_error_responses(self, client: Client) -> None:
        schema = client.get("/api/schema?format=json").json()

        operations = [
            (path, method, item[method])
            for path, item in schema["paths"].items()
            for method in METHODS
            if method in item
        ]
        assert len(operations) > 20
        for path, method, operation in operations:
            responses = operation["responses"]
            for code in ("400", "401", "403", "404", "409", "429"):
                content = responses[code]["content"]["application/problem+json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, (
                    path,
                    method,
                    code,
                )
            assert "Retry-After" in responses["429"]["headers"], (path, method)
        assert set(schema["components"]["schemas"]["Problem"]["required"]) == {"type", "title"}
