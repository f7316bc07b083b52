"""Role x action x endpoint: every way to reach a session asks the one rule (`sessions_for`).

Each cell makes a caller of one role, sends one request at a RUNNING session of a plain user in
domain alpha (its kernel has no runner yet) and classifies the answer: ALLOW (authorization
passed: a success, or the 409/503 of a session whose runner is not there), FORBIDDEN (403: the
caller may see the session but not do this) or HIDDEN (404, or absent from a list: the caller
may not even see it). MANAGE cells also check that a refused caller changed nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.routing import URLRouter
from django.test import Client
from django.utils import timezone

from backendai_site.accounts.auth.signing import sign_request
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain
from backendai_site.config import API_VERSION
from proxy_app.apps_proxy.services import AppTarget, app_label, target_still_valid
from proxy_app.routing import websocket_urlpatterns
from sessions_app.enums import SessionAction, SessionStatus
from sessions_app.models import Kernel, Session
from tests.factories.accounts import DomainFactory
from tests.factories.sessions import SessionFactory, owner_session_kwargs
from tests.helpers.credentials import TEST_HOST, Credentials, make_credentials, signed_headers

pytestmark = pytest.mark.django_db


class Outcome(StrEnum):
    ALLOW = "allow"
    FORBIDDEN = "forbidden"
    HIDDEN = "hidden"


@dataclass(frozen=True)
class Role:
    """A kind of caller, placed relative to the session's domain (alpha) or another (beta)."""

    name: str
    role: UserRole
    own_domain: bool
    owner: bool = False
    global_monitor: bool = False


ROLES = (
    Role("superadmin", UserRole.SUPERADMIN, own_domain=False),
    Role("domain-admin", UserRole.ADMIN, own_domain=True),
    Role("other-domain-admin", UserRole.ADMIN, own_domain=False),
    Role("monitor", UserRole.MONITOR, own_domain=True),
    Role("other-domain-monitor", UserRole.MONITOR, own_domain=False),
    Role("global-monitor", UserRole.MONITOR, own_domain=False, global_monitor=True),
    Role("owner", UserRole.USER, own_domain=True, owner=True),
    Role("other-user", UserRole.USER, own_domain=True),
)


def expected(role: Role, action: SessionAction) -> Outcome:
    """The rule, written out per role (independently of `sessions_for`)."""
    match role.name:
        case "superadmin" | "domain-admin" | "owner":
            return Outcome.ALLOW
        case "monitor" | "global-monitor":
            return Outcome.ALLOW if action == SessionAction.VIEW else Outcome.FORBIDDEN
    return Outcome.HIDDEN


@dataclass(frozen=True)
class Scene:
    alpha: Domain
    beta: Domain
    owner: Credentials
    session: Session
    kernel: Kernel

    def caller(self, role: Role) -> Credentials:
        if role.owner:
            return self.owner
        return make_credentials(
            role=role.role,
            domain=self.alpha if role.own_domain else self.beta,
            monitors_all_domains=role.global_monitor,
        )


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Every cell makes users; the default hasher would spend most of the run hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _keep_the_test_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels closes "old" connections around each consumer event, which inside a test's
    transaction means the test's own connection; Django's test client skips the same for
    requests (it disconnects `close_old_connections` from `request_started`)."""

    async def keep() -> None:
        return None

    monkeypatch.setattr("channels.consumer.aclose_old_connections", keep)
    monkeypatch.setattr("channels.generic.websocket.aclose_old_connections", keep)


@pytest.fixture
def scene(db: None) -> Scene:
    alpha = DomainFactory.create(name="alpha")
    beta = DomainFactory.create(name="beta")
    owner = make_credentials(domain=alpha)
    session = cast(
        Session,
        SessionFactory(
            status=SessionStatus.RUNNING,
            status_changed=timezone.now(),
            **owner_session_kwargs(owner.keypair),
        ),
    )
    kernel = Kernel.objects.get(session=session)
    kernel.service_ports = [{"name": "http", "protocol": "http", "container_ports": [8080]}]
    kernel.host_ports = {"http": 30080}
    kernel.save(update_fields=["service_ports", "host_ports"])
    return Scene(alpha=alpha, beta=beta, owner=owner, session=session, kernel=kernel)


# --- how each endpoint is called and its answer classified ------------------------------------


def _status_outcome(status: int, allowed: set[int], detail: Any) -> Outcome:
    if status == 403:
        return Outcome.FORBIDDEN
    if status == 404:
        return Outcome.HIDDEN
    assert status in allowed, f"unexpected status {status}: {detail!r}"
    return Outcome.ALLOW


def _signed(
    method: str,
    path: str,
    *,
    allowed: set[int],
    body: Any = None,
    content_type: str = "application/json",
) -> Callable[[Scene, Credentials], Outcome]:
    def probe(scene: Scene, creds: Credentials) -> Outcome:
        url = path.format(id=scene.session.pk)
        headers = signed_headers(
            access_key=creds.access_key,
            secret_key=creds.secret_key,
            method=method,
            rel_url=url,
            content_type=content_type.split(";")[0],  # signed without parameters
        )
        headers["CONTENT_TYPE"] = content_type
        data: Any = json.dumps(body) if body is not None else b""
        response = Client().generic(method, url, data, content_type=content_type, **headers)
        return _status_outcome(response.status_code, allowed, _content(response))

    return probe


def _content(response: Any) -> Any:
    return b"<stream>" if getattr(response, "streaming", False) else response.content[:300]


def _listed(path: str) -> Callable[[Scene, Credentials], Outcome]:
    """A list never refuses: the session is in it (ALLOW) or not (HIDDEN)."""

    def probe(scene: Scene, creds: Credentials) -> Outcome:
        headers = signed_headers(
            access_key=creds.access_key, secret_key=creds.secret_key, method="GET", rel_url=path
        )
        response = Client().get(path, **headers)
        assert response.status_code == 200, response.content[:300]
        payload = response.json()
        rows = payload["results"] if isinstance(payload, dict) else payload
        ids = {row["sessionId"] for row in rows}
        return Outcome.ALLOW if str(scene.session.pk) in ids else Outcome.HIDDEN

    return probe


def _graphql(query: str, field: str) -> Callable[[Scene, Credentials], Outcome]:
    def probe(scene: Scene, creds: Credentials) -> Outcome:
        headers = signed_headers(
            access_key=creds.access_key,
            secret_key=creds.secret_key,
            method="POST",
            rel_url="/admin/gql",
            content_type="application/json",
        )
        body = json.dumps({"query": query.replace("SESSION_ID", str(scene.session.pk))})
        response = Client().post("/admin/gql", body, content_type="application/json", **headers)
        assert response.status_code == 200, response.content[:300]
        payload = response.json()
        assert not payload.get("errors"), payload
        value = payload["data"][field]
        if isinstance(value, dict) and "items" in value:
            found = str(scene.session.pk) in {item["id"] for item in value["items"]}
        else:
            found = value is not None
        return Outcome.ALLOW if found else Outcome.HIDDEN

    return probe


STREAM_APP = URLRouter(websocket_urlpatterns)


def _stream(kind: str, query: str = "") -> Callable[[Scene, Credentials], Outcome]:
    """A signed websocket handshake, answered over the HTTP-denial extension: a refusal is
    403/404; a handshake that passed authorization meets the missing runner (409)."""

    def probe(scene: Scene, creds: Credentials) -> Outcome:
        path = f"/stream/session/{scene.session.pk}/{kind}"
        target = f"{path}?{query}" if query else path
        now = datetime.now(UTC)
        signature = sign_request(
            secret_key=creds.secret_key,
            method="GET",
            rel_url=target,
            raw_date=now.isoformat(),
            request_date=now,
            host=TEST_HOST,
            content_type="application/octet-stream",
            api_version=API_VERSION,
        )
        headers = [
            (b"host", TEST_HOST.encode()),
            (b"date", now.isoformat().encode()),
            (b"x-backendai-version", API_VERSION.encode()),
            (
                b"authorization",
                (
                    f"BackendAI signMethod=HMAC-SHA256, credential={creds.access_key}:{signature}"
                ).encode(),
            ),
        ]

        scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": headers,
            "subprotocols": [],
            "extensions": {"websocket.http.response": {}},
        }

        async def handshake() -> dict[str, Any]:
            # channels.testing's communicator needs daphne; asgiref's is the same thing bare.
            communicator = ApplicationCommunicator(STREAM_APP, scope)
            await communicator.send_input({"type": "websocket.connect"})
            first = await communicator.receive_output(timeout=10)
            if first["type"] == "websocket.http.response.start":
                body = await communicator.receive_output(timeout=5)
                first["body"] = body.get("body", b"")
            await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
            await communicator.wait(timeout=5)
            return cast(dict[str, Any], first)

        answer = async_to_sync(handshake)()
        assert answer["type"] == "websocket.http.response.start", answer
        return _status_outcome(answer["status"], {409}, answer.get("body"))

    return probe


def _console(path: str, *, allowed: set[int]) -> Callable[[Scene, Credentials], Outcome]:
    """A console page with the user's login cookie."""

    def probe(scene: Scene, creds: Credentials) -> Outcome:
        client = Client()
        client.force_login(creds.user)
        response = client.get(path.format(id=scene.session.pk))
        return _status_outcome(response.status_code, allowed, response.content[:300])

    return probe


def _app_proxy_recheck(scene: Scene, creds: Credentials) -> Outcome:
    """The app proxy's per-request re-check of a cookie minted for this user."""
    target = AppTarget(
        label=app_label(scene.session.pk, "http"),
        session_id=str(scene.session.pk),
        kernel_id=str(scene.kernel.pk),
        app="http",
        user_id=str(creds.user.pk),
        host="127.0.0.1",
        port=30080,
    )
    return Outcome.ALLOW if target_still_valid(target) else Outcome.FORBIDDEN


@dataclass(frozen=True)
class Endpoint:
    name: str
    action: SessionAction
    probe: Callable[[Scene, Credentials], Outcome]
    # A refusal the endpoint cannot tell apart (a boolean re-check) counts as either kind.
    denial_is_opaque: bool = False


S = "/session/{id}"
GQL_ONE = '{ compute_session(id: "SESSION_ID") { id name } }'
GQL_LIST = "{ compute_session_list(limit: 100, offset: 0) { items { id } total_count } }"
VIEW, OPERATE, MANAGE = SessionAction.VIEW, SessionAction.OPERATE, SessionAction.MANAGE
ENDPOINTS = (
    # view
    Endpoint("GET /session", VIEW, _listed("/session")),
    Endpoint("GET /session/{ref}", VIEW, _signed("GET", S, allowed={200})),
    Endpoint("GET logs", VIEW, _signed("GET", S + "/logs", allowed={200})),
    Endpoint("GET status-history", VIEW, _signed("GET", S + "/status-history", allowed={200})),
    Endpoint("GET dependency-graph", VIEW, _signed("GET", S + "/dependency-graph", allowed={200})),
    Endpoint(
        "GET /events/session", VIEW, _signed("GET", "/events/session?sessionId={id}", allowed={200})
    ),
    Endpoint("graphql compute_session", VIEW, _graphql(GQL_ONE, "compute_session")),
    Endpoint("graphql compute_session_list", VIEW, _graphql(GQL_LIST, "compute_session_list")),
    # operate
    Endpoint(
        "POST execute",
        OPERATE,
        _signed("POST", S, allowed={409}, body={"mode": "query", "code": "1"}),
    ),
    Endpoint(
        "POST complete",
        OPERATE,
        _signed("POST", S + "/complete", allowed={409}, body={"code": "pri"}),
    ),
    Endpoint("POST interrupt", OPERATE, _signed("POST", S + "/interrupt", allowed={409}, body={})),
    Endpoint(
        "POST start-service",
        OPERATE,
        _signed("POST", S + "/start-service", allowed={409}, body={"app": "http"}),
    ),
    Endpoint(
        "GET stream apps", OPERATE, _signed("GET", "/stream/session/{id}/apps", allowed={409})
    ),
    Endpoint(
        "POST upload",
        OPERATE,
        _signed(
            "POST", S + "/upload", allowed={409}, content_type="multipart/form-data; boundary=x"
        ),
    ),
    Endpoint("POST download", OPERATE, _signed("POST", S + "/download?files=a", allowed={409})),
    Endpoint("GET files", OPERATE, _signed("GET", S + "/files", allowed={409}, body={"path": "."})),
    Endpoint(
        "POST app-link",
        OPERATE,
        _signed("POST", S + "/app-link", allowed={503}, body={"app": "http"}),
    ),
    Endpoint("app proxy cookie re-check", OPERATE, _app_proxy_recheck, denial_is_opaque=True),
    Endpoint("stream execute", OPERATE, _stream("execute")),
    Endpoint("stream pty", OPERATE, _stream("pty")),
    Endpoint("stream tcpproxy", OPERATE, _stream("tcpproxy", "app=http")),
    Endpoint("terminal page", OPERATE, _console("/console/session/{id}/terminal", allowed={200})),
    # manage
    Endpoint("PATCH restart", MANAGE, _signed("PATCH", S, allowed={204})),
    Endpoint("POST rename", MANAGE, _signed("POST", S + "/rename?name=renamed", allowed={204})),
    Endpoint("DELETE destroy", MANAGE, _signed("DELETE", S, allowed={200})),
    Endpoint("POST commit", MANAGE, _signed("POST", S + "/commit", allowed={409})),
    Endpoint("POST imagify", MANAGE, _signed("POST", S + "/imagify?image_name=m", allowed={409})),
)


def _cells() -> list[Any]:
    return [
        pytest.param(role, endpoint, id=f"{role.name}-{endpoint.action}-{endpoint.name}")
        for endpoint in ENDPOINTS
        for role in ROLES
    ]


class TestSessionAuthorizationMatrix:
    @pytest.mark.parametrize(("role", "endpoint"), _cells())
    def test_cell(self, scene: Scene, role: Role, endpoint: Endpoint) -> None:
        creds = scene.caller(role)
        before = Session.objects.values("name", "status").get(pk=scene.session.pk)

        outcome = endpoint.probe(scene, creds)

        want = expected(role, endpoint.action)
        if endpoint.denial_is_opaque and want != Outcome.ALLOW:
            assert outcome != Outcome.ALLOW
        else:
            assert outcome == want
        if want != Outcome.ALLOW:
            after = Session.objects.values("name", "status").get(pk=scene.session.pk)
            assert after == before  # a refused caller changed nothing


class TestConsoleAppLink:
    """The admin page's "Open app" link (staff only): a monitor may look but not open."""

    def test_monitor_is_forbidden(self, scene: Scene) -> None:
        monitor = make_credentials(role=UserRole.MONITOR, domain=scene.alpha)
        client = Client()
        client.force_login(monitor.user)

        response = client.get(f"/console/session/{scene.session.pk}/apps/http")

        assert response.status_code == 403

    def test_other_domains_monitor_does_not_find_it(self, scene: Scene) -> None:
        monitor = make_credentials(role=UserRole.MONITOR, domain=scene.beta)
        client = Client()
        client.force_login(monitor.user)

        response = client.get(f"/console/session/{scene.session.pk}/apps/http")

        assert response.status_code == 404
