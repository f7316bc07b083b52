"""Who may open which app: one-time tokens, cookies and upstream targets (Redis + the database).

Sync functions are called from Django views; the `a`-prefixed ones from the ASGI proxy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from asgiref.sync import async_to_sync, sync_to_async
from django.db import close_old_connections

from agents_app.kernel_runner.client import RunnerClient
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.redis import get_redis
from backendai_site.config import get_config
from proxy_app.errors import AppAccessDenied, AppNotRunning, ProxiedAppNotFound
from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel, Session

log = logging.getLogger(__name__)

TOKEN_KEY = "bai:apps:token:{}"
COOKIE_KEY = "bai:apps:cookie:{}"
PORT_KEY = "bai:apps:port:{}"
LABEL_PORT_KEY = "bai:apps:label-port:{}"
TOKEN_PARAM = "bai_token"
COOKIE_NAME = "bai_app"
APP_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,30}$")
LABEL_RE = re.compile(r"^(?P<session>[0-9a-f]{32})-(?P<app>[a-z0-9][a-z0-9_]{0,30})$")
PTY_PROTOCOLS = {"pty"}


@dataclass(frozen=True)
class AppTarget:
    """Where a label's traffic goes, and for whom the credential was minted."""

    label: str
    session_id: str
    kernel_id: str
    app: str
    user_id: str
    host: str
    port: int


@dataclass(frozen=True)
class AppLink:
    url: str
    token: str
    label: str
    expires_in: float


def app_label(session_id: UUID | str, app: str) -> str:
    return f"{UUID(str(session_id)).hex}-{app}"


def user_may_open(user: User, session: Session) -> bool:
    """Owners, superadmins and admins of the session's domain (monitors only look)."""
    if not user.is_active:
        return False
    if user.pk == session.user_id:
        return True
    match user.role:
        case UserRole.SUPERADMIN:
            return True
        case UserRole.ADMIN:
            return user.domain_id == session.domain_id
    return False


def _main_kernel(session: Session) -> Kernel:
    kernel = (
        Kernel.objects.select_related("agent")
        .filter(session=session, cluster_role="main")
        .order_by("cluster_idx")
        .first()
    )
    if kernel is None or session.status not in SessionStatus.running():
        raise AppNotRunning("The session is not running.")
    return kernel


def _service_names(kernel: Kernel) -> dict[str, str]:
    return {
        str(port.get("name")): str(port.get("protocol") or "")
        for port in kernel.service_ports or []
        if port.get("name")
    }


def _service_start(kernel: Kernel, app: str) -> None:
    if kernel.agent is None or kernel.runner_port is None:
        raise AppNotRunning("The session's kernel has no runner.")

    async def start() -> None:
        async with RunnerClient(
            kernel.agent.advertised_host if kernel.agent else "127.0.0.1",
            kernel.runner_port or 0,
            kernel.runner_secret,
        ) as client:
            await client.start_service(app, timeout=20.0)

    try:
        async_to_sync(start)()
    except Exception as exc:
        log.warning(
            "app start failed",
            extra={"session_id": str(kernel.session_id), "app": app, "error": str(exc)},
        )
        raise AppNotRunning(f"The app {app!r} could not be started: {exc}") from exc


def _public_base(label: str, public_endpoint: str) -> str:
    config = get_config()
    parts = urlsplit(public_endpoint or config.public_endpoint)
    scheme = parts.scheme or "http"
    if config.apps.port_range is not None:
        port = _port_for_label(label)
        return f"{scheme}://{parts.hostname or '127.0.0.1'}:{port}"
    netloc = f"{label}.{config.apps.domain}"
    if parts.port:
        netloc += f":{parts.port}"
    return f"{scheme}://{netloc}"


def _port_for_label(label: str) -> int:
    """Port mode: the label's port of the range, reserved in Redis (stable while in use)."""
    config = get_config()
    assert config.apps.port_range is not None
    client = get_redis()
    ttl = config.apps.cookie_max_age
    existing = client.get(LABEL_PORT_KEY.format(label))
    if existing is not None:
        port = int(existing)
        client.expire(LABEL_PORT_KEY.format(label), ttl)
        client.expire(PORT_KEY.format(port), ttl)
        return port
    low, high = config.apps.port_range
    for port in range(low, high + 1):
        if client.set(PORT_KEY.format(port), label, nx=True, ex=ttl):
            client.set(LABEL_PORT_KEY.format(label), port, ex=ttl)
            return port
    raise AppNotRunning("No free port in the app port range.")


def app_link_issue(*, user: User, session: Session, app: str, public_endpoint: str = "") -> AppLink:
    """Start `app` when needed and mint a one-time token for `user` (owner or admin)."""
    if not user_may_open(user, session):
        raise AppAccessDenied()
    if not APP_NAME_RE.match(app):
        raise InvalidAPIParameters("Invalid app name.")
    kernel = _main_kernel(session)
    services = _service_names(kernel)
    if app not in services or services[app] in PTY_PROTOCOLS or app not in kernel.host_ports:
        raise ProxiedAppNotFound(data={"available": sorted(services)})
    _service_start(kernel, app)
    config = get_config()
    label = app_label(session.pk, app)
    target = AppTarget(
        label=label,
        session_id=str(session.pk),
        kernel_id=str(kernel.pk),
        app=app,
        user_id=str(user.pk),
        host=kernel.agent.advertised_host if kernel.agent else "127.0.0.1",
        port=int(kernel.host_ports[app]),
    )
    token = secrets.token_urlsafe(24)
    get_redis().set(
        TOKEN_KEY.format(token), json.dumps(asdict(target)), ex=int(config.apps.token_ttl)
    )
    base = _public_base(label, public_endpoint)
    log.info(
        "app link issued",
        extra={"session_id": target.session_id, "app": app, "user_id": target.user_id},
    )
    return AppLink(
        url=f"{base}/?{TOKEN_PARAM}={token}",
        token=token,
        label=label,
        expires_in=config.apps.token_ttl,
    )


# --- used by the proxy (async) ---------------------------------------------------------------


def _target_from(raw: bytes | str | None) -> AppTarget | None:
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return AppTarget(**data)


def token_exchange(token: str, label: str) -> tuple[str, AppTarget] | None:
    """Consume a one-time token for `label`: a fresh cookie value and its target, or None."""
    client = get_redis()
    target = _target_from(client.getdel(TOKEN_KEY.format(token)))
    if target is None or target.label != label:
        return None
    cookie = secrets.token_urlsafe(32)
    client.set(
        COOKIE_KEY.format(cookie),
        json.dumps(asdict(target)),
        ex=get_config().apps.cookie_max_age,
    )
    return cookie, target


def cookie_resolve(cookie: str) -> AppTarget | None:
    return _target_from(get_redis().get(COOKIE_KEY.format(cookie)))


def label_for_port(port: int) -> str | None:
    raw = get_redis().get(PORT_KEY.format(port))
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def target_still_valid(target: AppTarget) -> bool:
    """The session still runs on the same kernel and port, and the user may still open it."""
    kernel = (
        Kernel.objects.select_related("session", "agent")
        .filter(pk=target.kernel_id, session_id=target.session_id)
        .first()
    )
    if kernel is None or kernel.session.status not in SessionStatus.running():
        return False
    if int((kernel.host_ports or {}).get(target.app, -1)) != target.port:
        return False
    host = kernel.agent.advertised_host if kernel.agent else "127.0.0.1"
    if host != target.host:
        return False
    user = User.objects.filter(pk=target.user_id).first()
    return user is not None and user_may_open(user, kernel.session)


class TargetCache:
    """Per-process memo of cookie -> validated target, re-checked every `ttl` seconds."""

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, AppTarget | None]] = {}
        self._pending: dict[str, asyncio.Future[AppTarget | None]] = {}

    async def resolve(self, cookie: str) -> AppTarget | None:
        now = time.monotonic()
        entry = self._entries.get(cookie)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        # One database check per cookie at a time: concurrent requests wait for it instead of
        # each taking a worker thread when the entry expires.
        pending = self._pending.get(cookie)
        if pending is not None:
            return await asyncio.shield(pending)
        task = asyncio.ensure_future(sync_to_async(self._load, thread_sensitive=False)(cookie))
        self._pending[cookie] = task
        try:
            target = await asyncio.shield(task)
        finally:
            if self._pending.get(cookie) is task:
                del self._pending[cookie]
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[cookie] = (now, target)
        return target

    @staticmethod
    def _load(cookie: str) -> AppTarget | None:
        close_old_connections()
        target = cookie_resolve(cookie)
        if target is None or not target_still_valid(target):
            return None
        return target

    def forget(self) -> None:
        self._entries.clear()
        self._pending.clear()
