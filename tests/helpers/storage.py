"""A DRF test client acting as one user, for the storage tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rest_framework.test import APIClient

from tests.helpers.credentials import Credentials


@dataclass
class Api:
    creds: Credentials
    client: APIClient

    def call(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        data = json.dumps(body) if body is not None else None
        return self.client.generic(
            method, path, data=data or "", content_type="application/json", **extra
        )

    def vfid(self, name: str) -> str:
        response = self.call("GET", "/folders/_/id", {"name": name})
        assert response.status_code == 200, response.content
        return str(response.json()["id"])
