"""The app proxy over real sockets: one-time tokens become cookies, only the owner (or an admin)
gets through, bodies stream both ways, websockets are relayed, other hosts are untouched."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from backendai_site.accounts.enums import UserRole
from proxy_app.apps_proxy import services
from proxy_app.apps_proxy.services import app_link_issue
from proxy_app.errors import AppAccessDenied
from sessions_app.enums import SessionStatus
from sessions_app.errors import AppNotFound
from sessions_app.models import Session
from tests.helpers.apps_proxy import DOMAIN, MIB, Proxy, Upstream, app_session
from tests.helpers.credentials import Credentials, make_credentials


def get(proxy: Proxy, label: str, path: str = "/", **kwargs: Any) -> httpx.Response:
    headers = {"Host": f"{label}.{DOMAIN}:{proxy.port}", **kwargs.pop("headers", {})}
    with httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=30) as client:
        return client.request(kwargs.pop("method", "GET"), path, headers=headers, **kwargs)


def open_app(proxy: Proxy, creds: Credentials, session: Session) -> tuple[str, str]:
    """Exchange a fresh one-time token; returns (label, cookie value)."""
    link = app_link_issue(user=creds.user, session=session, app="http")
    response = get(proxy, link.label, f"/some/page?x=1&bai_token={link.token}")
    assert response.status_code == 302, response.text
    return link.label, response.cookies["bai_app"]


class TestTokenExchange:
    def test_token_becomes_a_host_only_http_only_cookie(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        session = app_session(owner, upstream.port)
        link = app_link_issue(user=owner.user, session=session, app="http")

        redirect = get(proxy, link.label, f"/some/page?x=1&bai_token={link.token}")

        assert redirect.status_code == 302
        assert redirect.headers["location"] == "/some/page?x=1"
        set_cookie = redirect.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie
        assert "domain=" not in set_cookie
        assert upstream.requests == []

    def test_cookie_reaches_the_app_without_our_cookie(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        label, cookie = open_app(proxy, owner, app_session(owner, upstream.port))

        response = get(proxy, label, "/hello?q=1",
                       headers={"Cookie": f"theirs=1; bai_app={cookie}"})  # fmt: skip

        assert response.status_code == 200
        assert response.text.startswith("GET /hello 0 ")
        assert response.headers["x-upstream"] == "yes"
        seen = upstream.requests[-1]["headers"]
        assert seen["cookie"] == "theirs=1"
        assert seen["x-forwarded-host"] == f"{label}.{DOMAIN}:{proxy.port}"

    def test_reused_token_is_refused(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        session = app_session(owner, upstream.port)
        link = app_link_issue(user=owner.user, session=session, app="http")
        first = get(proxy, link.label, f"/?bai_token={link.token}")

        second = get(proxy, link.label, f"/?bai_token={link.token}")

        assert first.status_code == 302
        assert second.status_code == 403
        assert "set-cookie" not in second.headers
        assert upstream.requests == []

    def test_token_for_another_app_host_is_refused(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        other = app_session(owner, upstream.port)
        session = app_session(owner, upstream.port)
        link = app_link_issue(user=owner.user, session=session, app="http")

        response = get(proxy, services.app_label(other.pk, "http"), f"/?bai_token={link.token}")

        assert response.status_code == 403
        assert upstream.requests == []


class TestCrossUser:
    def test_no_credential_gets_403_and_no_upstream_bytes(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        session = app_session(owner, upstream.port)

        response = get(proxy, services.app_label(session.pk, "http"))

        assert response.status_code == 403
        assert upstream.requests == []

    def test_another_users_cookie_gets_403(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        mallory = make_credentials()
        victim_session = app_session(owner, upstream.port)
        _, mallory_cookie = open_app(proxy, mallory, app_session(mallory, upstream.port))
        before = len(upstream.requests)

        response = get(proxy, services.app_label(victim_session.pk, "http"),
                       headers={"Cookie": f"bai_app={mallory_cookie}"})  # fmt: skip

        assert response.status_code == 403
        assert len(upstream.requests) == before

    def test_another_user_cannot_mint_a_link(self, upstream: Upstream, owner: Credentials) -> None:
        session = app_session(owner, upstream.port)
        mallory = make_credentials()
        monitor = make_credentials(role=UserRole.MONITOR, domain=owner.user.domain)

        with pytest.raises(AppAccessDenied):
            app_link_issue(user=mallory.user, session=session, app="http")
        with pytest.raises(AppAccessDenied):
            app_link_issue(user=monitor.user, session=session, app="http")

    def test_admin_of_the_domain_may_open(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        admin = make_credentials(role=UserRole.ADMIN, domain=owner.user.domain)
        label, cookie = open_app(proxy, admin, app_session(owner, upstream.port))

        assert get(proxy, label, headers={"Cookie": f"bai_app={cookie}"}).status_code == 200

    def test_pty_services_and_unknown_apps_are_not_proxied(
        self, upstream: Upstream, owner: Credentials
    ) -> None:
        session = app_session(owner, upstream.port)

        with pytest.raises(AppNotFound):
            app_link_issue(user=owner.user, session=session, app="terminal")
        with pytest.raises(AppNotFound):
            app_link_issue(user=owner.user, session=session, app="jupyter")

    def test_cookie_dies_with_the_session(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        session = app_session(owner, upstream.port)
        label, cookie = open_app(proxy, owner, session)
        Session.objects.filter(pk=session.pk).update(status=SessionStatus.TERMINATED)
        proxy.router.targets.forget()

        response = get(proxy, label, headers={"Cookie": f"bai_app={cookie}"})

        assert response.status_code == 403


class TestStreaming:
    def test_large_download_streams(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        label, cookie = open_app(proxy, owner, app_session(owner, upstream.port))
        digest, size = hashlib.sha256(), 0
        headers = {"Host": f"{label}.{DOMAIN}:{proxy.port}", "Cookie": f"bai_app={cookie}"}

        with (
            httpx.Client(timeout=60) as client,
            client.stream("GET", f"http://127.0.0.1:{proxy.port}/big/64", headers=headers) as r,
        ):
            assert r.status_code == 200
            assert r.headers["content-length"] == str(64 * MIB)
            for chunk in r.iter_raw():
                digest.update(chunk)
                size += len(chunk)

        assert size == 64 * MIB
        assert digest.hexdigest() == hashlib.sha256(b"x" * 64 * MIB).hexdigest()

    def test_large_chunked_upload_streams(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        label, cookie = open_app(proxy, owner, app_session(owner, upstream.port))
        block = os.urandom(MIB)

        def body() -> Any:
            for _ in range(32):
                yield block

        response = get(proxy, label, "/upload", method="POST", content=body(),
                       headers={"Cookie": f"bai_app={cookie}"})  # fmt: skip

        expected = hashlib.sha256(block * 32).hexdigest()
        assert response.text == f"POST /upload {32 * MIB} {expected}"


class TestWebsocket:
    def test_websocket_through_the_proxy(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        label, cookie = open_app(proxy, owner, app_session(owner, upstream.port))

        async def talk() -> tuple[Any, Any]:
            async with connect(
                f"ws://{label}.{DOMAIN}:{proxy.port}/ws",
                host="127.0.0.1",  # the Host header names the app; the socket goes to loopback
                port=proxy.port,
                additional_headers={"Cookie": f"bai_app={cookie}"},
            ) as ws:
                await ws.send("hi")
                text = await ws.recv()
                await ws.send(b"\x01\x02\x03")
                return text, await ws.recv()

        assert asyncio.run(talk()) == ("echo:hi", b"\x03\x02\x01")

    def test_websocket_without_cookie_is_refused(
        self, proxy: Proxy, upstream: Upstream, owner: Credentials
    ) -> None:
        session = app_session(owner, upstream.port)
        label = services.app_label(session.pk, "http")

        async def attempt() -> None:
            async with connect(f"ws://{label}.{DOMAIN}:{proxy.port}/ws",
                               host="127.0.0.1", port=proxy.port):  # fmt: skip
                pass

        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(attempt())
        assert refused.value.response.status_code == 403
        assert upstream.ws_connects == 0


class TestRouting:
    def test_other_hosts_reach_the_inner_application(self, proxy: Proxy) -> None:
        with httpx.Client() as client:
            response = client.get(f"http://127.0.0.1:{proxy.port}/", headers={"Host": "x"})

        assert response.text == "inner"

    def test_unknown_app_host_never_reaches_django(self, proxy: Proxy) -> None:
        assert get(proxy, "not-a-label").status_code == 403
