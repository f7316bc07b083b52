"""Storage scenarios: a volume under tmp, two users of one domain, an API client per user."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from backendai_site.accounts.models import Domain
from backendai_site.config import get_config
from storage_app.models import StorageVolume
from tests.factories.accounts import DomainFactory
from tests.helpers.credentials import Credentials, make_credentials
from tests.helpers.storage import Api


@pytest.fixture
def volume(db: None, tmp_path: Path) -> StorageVolume:
    mount = tmp_path / "volume1"
    mount.mkdir()
    volume, _ = StorageVolume.objects.update_or_create(
        name=get_config().storage.default_host,
        defaults={"backend": "vfs", "mount_path": str(mount), "capabilities": ["vfolder"]},
    )
    return volume


@pytest.fixture
def domain(db: None) -> Domain:
    return DomainFactory.create(name="storage-domain")


def _api(creds: Credentials) -> Api:
    client = APIClient()
    client.force_authenticate(user=creds.user, token=creds.keypair)  # type: ignore[arg-type]
    return Api(creds=creds, client=client)


@pytest.fixture
def make_api(volume: StorageVolume, domain: Domain) -> Callable[..., Api]:
    def make(**user_fields: Any) -> Api:
        user_fields.setdefault("domain", domain)
        return _api(make_credentials(**user_fields))

    return make


@pytest.fixture
def alice(make_api: Callable[..., Api]) -> Api:
    return make_api(email="alice@example.com", username="alice")


@pytest.fixture
def bob(make_api: Callable[..., Api]) -> Api:
    return make_api(email="bob@example.com", username="bob")


@pytest.fixture
def alice_folder(alice: Api) -> str:
    response = alice.call("POST", "/folders", {"name": "data1"})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])
