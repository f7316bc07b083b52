"""Signed JSON calls through Django's test client, the way the official client sends them."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from tests.helpers.credentials import Credentials, signed_headers


def api_call(
    client: Client, creds: Credentials, method: str, rel_url: str, body: Any = None
) -> Any:
    """`method rel_url` signed with `creds`; `body` (when not None) is sent as JSON."""
    content_type = "application/json" if body is not None else "text/plain"
    headers = signed_headers(
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        method=method,
        rel_url=rel_url,
        content_type=content_type,
    )
    data = json.dumps(body).encode() if body is not None else b""
    return client.generic(method, rel_url, data=data, **headers)


def problem_type(response: Any) -> str:
    """The slug of a problem+json answer (`.../probs/<slug>`)."""
    return str(response.json()["type"]).rsplit("/", 1)[-1]
