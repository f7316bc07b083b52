"""A real upstream app and the app proxy, each served by uvicorn on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backendai_site.common.redis import get_redis
from proxy_app.apps_proxy import services
from proxy_app.apps_proxy.asgi import AppsProxyRouter
from tests.helpers.apps_proxy import DOMAIN, Proxy, Upstream, inner_app, serve
from tests.helpers.credentials import Credentials, make_credentials


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    app = Upstream()
    port, server, thread = serve(app)
    app.port = port
    yield app
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def proxy(transactional_db: None) -> Iterator[Proxy]:
    router = AppsProxyRouter(inner_app, domain=DOMAIN, port_range=None)
    port, server, thread = serve(router)
    yield Proxy(port=port, router=router)
    server.should_exit = True
    thread.join(5)


@pytest.fixture(autouse=True)
def _no_runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The upstream already runs: starting the app through a kernel runner is not needed."""
    monkeypatch.setattr(services, "_service_start", lambda kernel, app: None)
    yield
    client = get_redis()
    for key in client.scan_iter("bai:apps:*"):
        client.delete(key)


@pytest.fixture
def owner(transactional_db: None) -> Credentials:
    return make_credentials()
