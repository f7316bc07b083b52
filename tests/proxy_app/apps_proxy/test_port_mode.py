"""Port mode: each open app gets its own port of a range, served by the run_apps_proxy listeners."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from backendai_site.config import get_config
from proxy_app.apps_proxy.asgi import AppsProxyRouter
from proxy_app.apps_proxy.listeners import apps_port_server, port_sockets
from proxy_app.apps_proxy.services import app_link_issue
from tests.helpers.apps_proxy import DOMAIN, Upstream, app_session, inner_app
from tests.helpers.credentials import Credentials
from tests.helpers.net import free_port


@pytest.fixture
def port_range(monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    low = free_port()
    monkeypatch.setattr(get_config().apps, "port_range", (low, low))
    return (low, low)


@pytest.fixture
def listeners(transactional_db: None, port_range: tuple[int, int]) -> Iterator[None]:
    router = AppsProxyRouter(inner_app, domain=DOMAIN, port_range=port_range)
    sockets = port_sockets("127.0.0.1", range(port_range[0], port_range[1] + 1))
    server = apps_port_server(router)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield
    server.should_exit = True
    thread.join(5)


class TestPortMode:
    def test_link_points_at_a_port_that_proxies_to_the_app(
        self, listeners: None, port_range: tuple[int, int], upstream: Upstream, owner: Credentials
    ) -> None:
        link = app_link_issue(
            user=owner.user, session=app_session(owner, upstream.port), app="http"
        )
        url = urlsplit(link.url)

        with httpx.Client(timeout=30) as client:
            redirect = client.get(link.url)
            cookie = redirect.cookies["bai_app"]
            client.cookies.set("bai_app", cookie)
            page = client.get(f"http://127.0.0.1:{url.port}/hello")
            anonymous = httpx.get(f"http://127.0.0.1:{url.port}/hello", timeout=30)

        assert url.port == port_range[0]
        assert redirect.status_code == 302
        assert page.status_code == 200
        assert upstream.requests and upstream.requests[-1]["path"] == "/hello"
        assert anonymous.status_code == 403
