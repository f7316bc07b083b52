"""`POST /session` reads JSON null as "the default" for every optional field (issue 12 item 7).

The body is the one `ComputeSession.get_or_create(image)` of the official SDK builds when every
keyword is left at its default: unset arguments travel as null.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from sessions_app.models import Session
from tests.factories.world import ComputeWorld
from tests.helpers.credentials import signed_headers

pytestmark = pytest.mark.django_db


def _sdk_default_body(name: str) -> dict[str, Any]:
    return {
        "tag": None,
        "name": name,
        "config": {
            "mounts": [],
            "mount_ids": [],
            "environ": None,
            "resources": {},
            "resource_opts": {},
            "scalingGroup": None,
            "attach_network": None,
            "mount_map": {},
            "mount_id_map": {},
            "mount_options": {},
            "preopen_ports": None,
        },
        "dependencies": None,
        "callback_url": None,
        "architecture": None,
        "clusterSize": None,
        "clusterMode": None,
        "starts_at": None,
        "bootstrap_script": None,
        "owner_access_key": None,
        "domain": None,
        "group": None,
        "type": None,
        "enqueueOnly": True,
        "maxWaitSeconds": None,
        "reuseIfExists": None,
        "startupCommand": None,
        "priority": None,
        "batch_timeout": None,
        "image": "python",
    }


def _post(client: Client, world: ComputeWorld, body: dict[str, Any]) -> Any:
    headers = signed_headers(
        access_key=world.user.access_key,
        secret_key=world.user.secret_key,
        method="POST",
        rel_url="/session",
        content_type="application/json",
    )
    return client.generic("POST", "/session", data=json.dumps(body), **headers)


class TestNullMeansDefault:
    def test_sdk_default_body_creates_a_session_with_the_defaults(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = _post(client, world, _sdk_default_body("nulls-1"))

        assert response.status_code in (200, 201), response.content[:500]
        session = Session.objects.get(pk=response.json()["sessionId"])
        assert session.environ == {}
        assert session.priority == 10
        assert session.session_type == "interactive"
        assert session.cluster_size == 1
        assert session.tag == ""

    def test_null_environ_alone_is_accepted(self, client: Client, world: ComputeWorld) -> None:
        response = _post(
            client, world, {"image": "python", "enqueueOnly": True, "config": {"environ": None}}
        )

        assert response.status_code in (200, 201), response.content[:500]

    def test_null_image_is_still_refused_as_a_bad_image(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = _post(client, world, {"image": None, "enqueueOnly": True})

        assert response.status_code == 400
        assert "image" in json.dumps(response.json())

    def test_a_wrong_type_is_still_refused(self, client: Client, world: ComputeWorld) -> None:
        response = _post(
            client, world, {"image": "python", "enqueueOnly": True, "config": {"environ": [1]}}
        )

        assert response.status_code == 400
        assert "config.environ" in json.dumps(response.json())

    def test_a_network_asked_for_is_refused_not_dropped(
        self, client: Client, world: ComputeWorld
    ) -> None:
        response = _post(client, world, {"image": "python", "enqueueOnly": True,
                                         "config": {"attach_network": "net-1"}})  # fmt: skip

        assert response.status_code == 400
        assert "not supported by this server" in json.dumps(response.json())
        assert not Session.objects.exists()
