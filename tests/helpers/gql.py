"""Run an admin GraphQL document as a test user, the way `POST /admin/gql` does."""

from __future__ import annotations

from typing import Any

from backendai_site.graphql.schema import schema
from tests.helpers.credentials import Credentials


def gql(creds: Credentials, query: str, **variables: Any) -> tuple[dict[str, Any], list[str]]:
    """The answer's `data` and its error messages."""
    result = schema.execute(query, variables=variables, context_value={"keypair": creds.keypair})
    return result.data or {}, [e.message for e in result.errors or []]
