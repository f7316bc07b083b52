"""Session callbacks cannot be turned into server-side requests to the platform's own network:
loopback and private addresses are refused unless allowed, the host is resolved once and the
connection pinned to that address, redirects are not followed and the timeout is short."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from backendai_site.config import get_config
from sessions_app.services.callbacks import session_callback_post
from tests.factories.world import ComputeWorld
from tests.helpers.credentials import signed_headers


@dataclass
class Received:
    requests: list[dict[str, Any]] = field(default_factory=list)
    behaviour: str = "ok"


@dataclass
class CallbackServer:
    port: int
    received: Received


@pytest.fixture
def callback_server() -> Iterator[CallbackServer]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.requests.append(
                {
                    "path": self.path,
                    "host": self.headers.get("Host"),
                    "body": json.loads(self.rfile.read(length) or b"null"),
                }
            )
            if received.behaviour == "slow":
                time.sleep(3)
            if received.behaviour == "redirect":
                self.send_response(307)
                self.send_header("Location", "/elsewhere")
            else:
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CallbackServer(port=server.server_address[1], received=received)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_config().callbacks, "allow_private_addresses", True)
    monkeypatch.setattr(get_config().callbacks, "timeout_seconds", 1.0)


class TestCallbackPost:
    def test_posts_to_the_resolved_address_with_the_host_header(
        self, callback_server: CallbackServer, loopback_allowed: None
    ) -> None:
        url = f"http://localhost:{callback_server.port}/hook?x=1"

        assert session_callback_post(callback_url=url, payload={"event": "session_started"})

        [request] = callback_server.received.requests
        assert request == {
            "path": "/hook?x=1",
            "host": f"localhost:{callback_server.port}",
            "body": {"event": "session_started"},
        }

    def test_redirects_are_not_followed(
        self, callback_server: CallbackServer, loopback_allowed: None
    ) -> None:
        callback_server.received.behaviour = "redirect"

        ok = session_callback_post(
            callback_url=f"http://127.0.0.1:{callback_server.port}/hook", payload={}
        )

        assert not ok
        assert [r["path"] for r in callback_server.received.requests] == ["/hook"]

    def test_a_slow_receiver_is_given_up_on(
        self, callback_server: CallbackServer, loopback_allowed: None
    ) -> None:
        callback_server.received.behaviour = "slow"
        started = time.monotonic()

        ok = session_callback_post(
            callback_url=f"http://127.0.0.1:{callback_server.port}/hook", payload={}
        )

        assert not ok
        assert time.monotonic() - started < 2.5

    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
    def test_loopback_is_refused_by_default(
        self, callback_server: CallbackServer, host: str
    ) -> None:
        ok = session_callback_post(
            callback_url=f"http://{host}:{callback_server.port}/hook", payload={}
        )

        assert not ok
        assert callback_server.received.requests == []

    def test_hosts_outside_the_allowed_list_are_refused(
        self, callback_server: CallbackServer, loopback_allowed: None, monkeypatch: Any
    ) -> None:
        monkeypatch.setattr(get_config().callbacks, "allowed_hosts", ["hooks.example.com"])

        ok = session_callback_post(
            callback_url=f"http://127.0.0.1:{callback_server.port}/hook", payload={}
        )

        assert not ok
        assert callback_server.received.requests == []


@pytest.mark.django_db
class TestCallbackAtCreate:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/",
            "http://[::1]:8080/",
            "http://user:pw@example.com/",
        ],
    )
    def test_internal_addresses_are_refused(
        self, client: Client, world: ComputeWorld, url: str
    ) -> None:
        headers = signed_headers(
            access_key=world.user.access_key,
            secret_key=world.user.secret_key,
            method="POST",
            rel_url="/session",
            content_type="application/json",
        )
        body = {"image": "python", "enqueueOnly": True, "callback_url": url}

        response = client.post("/session", data=body, content_type="application/json", **headers)

        assert response.status_code == 400
        assert response.json()["type"].endswith("/callback-url-not-allowed")
