"""A Django test client that signs every request as the official client does (so the async
views, which authenticate the signature themselves, see a real caller)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.test import Client

from tests.helpers.credentials import Credentials, signed_headers


@dataclass
class SignedApi:
    creds: Credentials
    client: Client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        raw: str | None = None,
    ) -> Any:
        rel_url = f"{path}?{urlencode(query)}" if query else path
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        headers = signed_headers(
            access_key=self.creds.access_key,
            secret_key=self.creds.secret_key,
            method=method,
            rel_url=rel_url,
            content_type="application/json",
        )
        return self.client.generic(method, rel_url, data=data, **headers)
