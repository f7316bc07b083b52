"""Code execution and service apps of a running session, straight to its kernel runner.

The web role talks to the runner of the session's main kernel on the agent's advertised host and
the runner's published port, authenticated with the kernel's secret (docs/design/0001). Celery is
not on this path. Everything async here runs on the web role's event loop; the one database read
(`kernel_endpoint_resolve`) is sync and is wrapped at the edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from asgiref.sync import sync_to_async
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agents_app.kernel_runner.client import ExecResult, RunnerClient, open_tunnel
from agents_app.runtime.errors import RunnerAuthFailed, RunnerRequestError, RunnerUnavailable
from backendai_site.accounts.models import KeyPair
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.validation import Text64, Text64K
from sessions_app.enums import KernelRole, SessionAction, SessionStatus
from sessions_app.errors import (
    AppNotFound,
    KernelRunnerUnavailable,
    RunnerRejected,
    SessionNotRunning,
)
from sessions_app.models import Kernel
from sessions_app.selectors import session_get_by_ref, sessions_for
from sessions_app.services.idle import session_mark_access

log = logging.getLogger(__name__)

REST_POLL_WAIT = 1.0
STREAM_POLL_WAIT = 5.0
ACCESS_MARK_INTERVAL = 1.0
SERVICE_START_TIMEOUT = 30.0
NO_START_PROTOCOLS = frozenset({"preopen"})
# Served by the runner itself (the built-in terminal): no published port, only a tunnel through
# the runner's authenticated channel.
RUNNER_SERVED_PROTOCOLS = frozenset({"pty"})
TUNNEL_TIMEOUT = 10.0


# -- where a session's runner is --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KernelEndpoint:
    """How to reach the main kernel of a running session (no ORM object crosses to async code)."""

    session_id: uuid.UUID
    kernel_id: uuid.UUID
    host: str
    runner_port: int
    secret: str = field(repr=False)
    host_ports: dict[str, int]
    service_ports: list[dict[str, Any]]
    preopen_ports: list[int]


_ENDPOINT_FIELDS = (
    "pk",
    "session_id",
    "session__status",
    "session__preopen_ports",
    "runner_port",
    "runner_secret",
    "host_ports",
    "service_ports",
    "agent__advertised_host",
)


def _endpoint_from_row(row: dict[str, Any]) -> KernelEndpoint:
    return KernelEndpoint(
        session_id=row["session_id"],
        kernel_id=row["pk"],
        host=row["agent__advertised_host"] or "127.0.0.1",
        runner_port=int(row["runner_port"]),
        secret=row["runner_secret"],
        host_ports={str(k): int(v) for k, v in (row["host_ports"] or {}).items()},
        service_ports=list(row["service_ports"] or []),
        preopen_ports=[int(p) for p in row["session__preopen_ports"] or []],
    )


def _kernel_endpoint_by_id(*, requester: KeyPair, session_id: uuid.UUID) -> KernelEndpoint | None:
    """One query for the common case (a session id, no owner override): the main kernel of a
    session the requester may operate, running, with its runner known. None sends the caller
    down the full path, which finds the same session or raises the precise error."""
    row = (
        Kernel.objects.filter(
            session__in=sessions_for(requester, SessionAction.OPERATE).filter(pk=session_id),
            cluster_role=KernelRole.MAIN,
        )
        .values(*_ENDPOINT_FIELDS)
        .first()
    )
    if (
        row is None
        or row["session__status"] not in SessionStatus.running()
        or not row["runner_port"]
        or not row["runner_secret"]
    ):
        return None
    return _endpoint_from_row(row)


def kernel_endpoint_resolve(
    *, requester: KeyPair, ref: str, owner_access_key: str | None = None
) -> KernelEndpoint:
    """The main kernel of a session the requester may operate (`SessionAction.OPERATE`: every
    caller of this works inside the session); sync (ORM)."""
    if not owner_access_key:
        try:
            session_id: uuid.UUID | None = uuid.UUID(ref)
        except ValueError:
            session_id = None
        if session_id is not None:
            endpoint = _kernel_endpoint_by_id(requester=requester, session_id=session_id)
            if endpoint is not None:
                return endpoint
    session = session_get_by_ref(
        requester=requester,
        ref=ref,
        action=SessionAction.OPERATE,
        owner_access_key=owner_access_key,
    )
    if session.status not in SessionStatus.running():
        raise SessionNotRunning(data={"status": session.status})
    kernel = (
        Kernel.objects.select_related("agent")
        .filter(session=session, cluster_role=KernelRole.MAIN)
        .first()
    )
    if kernel is None or not kernel.runner_port or not kernel.runner_secret:
        raise SessionNotRunning(data={"status": session.status})
    host = kernel.agent.advertised_host if kernel.agent is not None else "127.0.0.1"
    return KernelEndpoint(
        session_id=session.pk,
        kernel_id=kernel.pk,
        host=host or "127.0.0.1",
        runner_port=int(kernel.runner_port),
        secret=kernel.runner_secret,
        host_ports={str(k): int(v) for k, v in (kernel.host_ports or {}).items()},
        service_ports=list(kernel.service_ports or []),
        preopen_ports=[int(p) for p in session.preopen_ports or []],
    )


kernel_endpoint_resolve_async = sync_to_async(kernel_endpoint_resolve)


async def _runner_open(endpoint: KernelEndpoint) -> RunnerClient:
    """Connect and authenticate to the kernel's runner (the one way both helpers below use)."""
    client = RunnerClient(endpoint.host, endpoint.runner_port, endpoint.secret, connect_timeout=5)
    try:
        await client.connect()
    except (RunnerUnavailable, RunnerAuthFailed) as exc:
        log.warning(
            "kernel runner unreachable",
            extra={"session_id": str(endpoint.session_id), "error": str(exc)},
        )
        raise KernelRunnerUnavailable() from exc
    return client


@contextlib.asynccontextmanager
async def runner_connect(endpoint: KernelEndpoint) -> AsyncIterator[RunnerClient]:
    """An authenticated runner connection; runner failures become domain errors."""
    client = await _runner_open(endpoint)
    try:
        yield client
    except RunnerRequestError as exc:
        raise RunnerRejected(exc.message, data={"code": exc.runner_code}) from exc
    except RunnerUnavailable as exc:
        raise KernelRunnerUnavailable() from exc
    finally:
        await client.close()


# One shared, authenticated connection per kernel runner and event loop for execute requests:
# the runner client multiplexes concurrent requests by id, so a run no longer pays a TCP connect
# and an auth handshake. Keyed by the secret too (a restarted kernel gets a new connection); a
# connection whose read loop ended (runner gone, kernel destroyed) is replaced on next use.
_SHARED_RUNNERS_MAX = 256
_shared_runners: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, OrderedDict[tuple[uuid.UUID, str, int, str], RunnerClient]
] = weakref.WeakKeyDictionary()


async def _shared_runner(endpoint: KernelEndpoint) -> RunnerClient:
    clients = _shared_runners.setdefault(asyncio.get_running_loop(), OrderedDict())
    key = (endpoint.kernel_id, endpoint.host, endpoint.runner_port, endpoint.secret)
    client = clients.get(key)
    if client is not None and client.connected:
        clients.move_to_end(key)
        return client
    if client is not None:
        clients.pop(key, None)
        await client.close()
    client = await _runner_open(endpoint)
    current = clients.get(key)
    if current is not None and current.connected:  # a concurrent caller connected first
        await client.close()
        return current
    clients[key] = client
    while len(clients) > _SHARED_RUNNERS_MAX:
        _, oldest = clients.popitem(last=False)
        await oldest.close()
    return client


@contextlib.asynccontextmanager
async def runner_shared(endpoint: KernelEndpoint) -> AsyncIterator[RunnerClient]:
    """Like `runner_connect`, on the kernel's shared connection (request/reply use only: no
    PTYs, whose output is routed per connection). A broken connection is dropped."""
    client = await _shared_runner(endpoint)
    try:
        yield client
    except RunnerRequestError as exc:
        raise RunnerRejected(exc.message, data={"code": exc.runner_code}) from exc
    except RunnerUnavailable as exc:
        raise KernelRunnerUnavailable() from exc


# -- last-access marks for the idle checker ---------------------------------------------------

_last_access: dict[uuid.UUID, float] = {}


async def session_access_touch(session_id: uuid.UUID) -> None:
    """Mark use of a session for the idle checker, at most once a second per session and
    process. The mark (a Redis write) runs in a worker thread in the background: the stream
    neither waits for it nor fails with it (`session_mark_access` never raises)."""
    now = time.monotonic()
    if now - _last_access.get(session_id, 0.0) < ACCESS_MARK_INTERVAL:
        return
    if len(_last_access) > 10_000:
        _last_access.clear()
    _last_access[session_id] = now
    task = asyncio.ensure_future(
        sync_to_async(session_mark_access, thread_sensitive=False)(session_id)
    )
    _touch_tasks.add(task)
    task.add_done_callback(_touch_done)


_touch_tasks: set[asyncio.Future[bool]] = set()


def _touch_done(task: asyncio.Future[bool]) -> None:
    _touch_tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("marking session access failed", exc_info=task.exception())


# -- execution --------------------------------------------------------------------------------


MAX_CODE_CHARS = 4 * 1024 * 1024


class BatchOptions(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    clean: Text64K | None = "*"
    build: Text64K | None = "*"
    build_log: bool = Field(default=False, alias="buildLog")
    exec_: Text64K | None = Field(default="*", alias="exec")


class ExecuteRequest(BaseModel):
    """A REST execute body or the first frame of the execute websocket (COMPAT.md 4.4)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    mode: Literal["query", "batch", "continue", "input", "complete"] | None = None
    code: str = Field(default="", max_length=MAX_CODE_CHARS)
    run_id: Text64 | None = Field(default=None, alias="runId")
    options: dict[Text64, Any] | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _batch_options(self) -> ExecuteRequest:
        # checked here, with the request, so a bad option is a 400 rather than a failure later
        if self.mode == "batch":
            try:
                BatchOptions.model_validate(self.options or {})
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"options.{where}: {first['msg']}") from None
        return self


def result_payload(result: ExecResult, *, with_run_id: bool = False) -> dict[str, Any]:
    """A runner result in the client's shape; `console` is always a list."""
    payload: dict[str, Any] = {
        "status": result.status,
        "console": [[kind, text] for kind, text in result.console],
        "exitCode": result.exit_code,
        "options": result.options,
        "files": [],
    }
    if with_run_id:
        payload["runId"] = result.run_id
    return payload


async def _start(runner: RunnerClient, request: ExecuteRequest, wait: float) -> ExecResult:
    if request.mode == "batch":
        options = BatchOptions.model_validate(request.options or {})
        return await runner.batch(
            clean="*" if options.clean is None else options.clean,
            build="*" if options.build is None else options.build,
            exec_="*" if options.exec_ is None else options.exec_,
            run_id=request.run_id,
            wait=wait,
        )
    return await runner.execute(request.code, run_id=request.run_id, wait=wait)


async def _completion_payload(runner: RunnerClient, request: ExecuteRequest) -> dict[str, Any]:
    """Candidates from the session's own interpreter (the runner's rlcompleter)."""
    completions = await runner.complete(request.code, request.options or {})
    return {
        "status": "finished",
        "completions": completions,
        "console": [],
        "exitCode": 0,
        "files": [],
    }


async def session_execute(
    *, endpoint: KernelEndpoint, request: ExecuteRequest, wait: float = REST_POLL_WAIT
) -> dict[str, Any]:
    """One REST execute call: start a run, poll it, feed it input, or complete code."""
    await session_access_touch(endpoint.session_id)
    mode = request.mode
    if mode is None or mode == "complete":
        async with runner_shared(endpoint) as runner:
            return await _completion_payload(runner, request)
    if mode in ("continue", "input") and not request.run_id:
        raise InvalidAPIParameters(f"Mode {mode!r} needs the runId of a run.")
    async with runner_shared(endpoint) as runner:
        match mode:
            case "query" | "batch":
                result = await _start(runner, request, wait)
            case "continue":
                result = await runner.continue_run(str(request.run_id), wait=wait)
            case "input":
                result = await runner.send_input(str(request.run_id), request.code, wait=wait)
    log.info(
        "execute",
        extra={"session_id": str(endpoint.session_id), "mode": mode, "status": result.status},
    )
    return result_payload(result, with_run_id=True)


async def session_execute_stream(
    *,
    endpoint: KernelEndpoint,
    request: ExecuteRequest,
    send: Callable[[dict[str, Any]], Awaitable[None]],
    next_input: Callable[[], Awaitable[str]],
) -> int | None:
    """The execute websocket's run loop: start the run, send every poll, answer `waiting-input`
    with the client's next text frame, and return the exit code once `finished`. If the caller
    is cancelled (the client went away) the run is interrupted."""
    if request.mode not in ("query", "batch"):
        raise InvalidAPIParameters("The stream accepts modes 'query' and 'batch'.")
    async with runner_shared(endpoint) as runner:
        result = await _start(runner, request, STREAM_POLL_WAIT)
        try:
            while True:
                await send(result_payload(result))
                await session_access_touch(endpoint.session_id)
                match result.status:
                    case "finished":
                        return result.exit_code
                    case "waiting-input":
                        text = await next_input()
                        result = await runner.send_input(result.run_id, text, wait=STREAM_POLL_WAIT)
                    case _:
                        result = await runner.continue_run(result.run_id, wait=STREAM_POLL_WAIT)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(runner.interrupt(result.run_id))
            raise


async def session_interrupt(*, endpoint: KernelEndpoint) -> str | None:
    """Interrupt the running query (or batch) of the session; the session keeps running."""
    await session_access_touch(endpoint.session_id)
    async with runner_shared(endpoint) as runner:
        run_id = await runner.interrupt()
    log.info("interrupt", extra={"session_id": str(endpoint.session_id), "run_id": run_id})
    return run_id


# -- service apps ------------------------------------------------------------------------------


def session_apps(*, endpoint: KernelEndpoint) -> list[dict[str, Any]]:
    """The session's apps as `GET /stream/session/{ref}/apps` lists them: the image's service
    ports, then the preopen ports."""
    apps: list[dict[str, Any]] = []
    seen: set[str] = set()
    for port in endpoint.service_ports:
        name = str(port.get("name"))
        seen.add(name)
        apps.append(
            {
                "name": name,
                "protocol": port.get("protocol"),
                "ports": list(port.get("container_ports") or port.get("ports") or []),
            }
        )
    for number in endpoint.preopen_ports:
        if str(number) not in seen:
            apps.append({"name": str(number), "protocol": "preopen", "ports": [number]})
    return apps


def app_protocol(*, endpoint: KernelEndpoint, name: str) -> str:
    for app in session_apps(endpoint=endpoint):
        if app["name"] == name:
            return str(app["protocol"])
    raise AppNotFound(f"The session has no app named {name!r}.", data={"app": name})


def app_host_port(*, endpoint: KernelEndpoint, name: str) -> int:
    """The published port of an app on the agent host."""
    app_protocol(endpoint=endpoint, name=name)
    port = endpoint.host_ports.get(name)
    if port is None:
        raise AppNotFound(f"The app {name!r} has no published port.", data={"app": name})
    return port


def app_runner_served(*, endpoint: KernelEndpoint, name: str) -> bool:
    """The app is served by the runner itself and so is reached through `app_tunnel_open`."""
    protocol = app_protocol(endpoint=endpoint, name=name)
    return protocol in RUNNER_SERVED_PROTOCOLS and name not in endpoint.host_ports


async def app_tunnel_open(*, endpoint: KernelEndpoint, name: str) -> socket.socket:
    """A raw stream (a connected non-blocking socket) to an app through the kernel's runner,
    authenticated with the kernel's secret."""
    try:
        return await open_tunnel(
            endpoint.host, endpoint.runner_port, endpoint.secret, name, timeout=TUNNEL_TIMEOUT
        )
    except RunnerRequestError as exc:
        raise AppNotFound(f"The app {name!r} cannot be opened: {exc.message}") from exc
    except (RunnerUnavailable, RunnerAuthFailed) as exc:
        log.warning(
            "runner tunnel failed",
            extra={"session_id": str(endpoint.session_id), "app": name, "error": str(exc)},
        )
        raise KernelRunnerUnavailable() from exc


_started: set[tuple[uuid.UUID, str]] = set()
_start_locks: dict[tuple[uuid.UUID, str], asyncio.Lock] = {}


async def session_service_start(
    *, endpoint: KernelEndpoint, name: str, force: bool = False
) -> dict[str, Any]:
    """Start an app through the runner (idempotent); remembered per process so a tunnel
    opening many connections asks once."""
    protocol = app_protocol(endpoint=endpoint, name=name)
    key = (endpoint.kernel_id, name)
    if protocol in NO_START_PROTOCOLS or (key in _started and not force):
        return {"name": name, "status": "already-running"}
    # Connections of one tunnel arrive together: one start, the others wait for it.
    lock = _start_locks.setdefault(key, asyncio.Lock())
    async with lock:
        if key in _started and not force:
            return {"name": name, "status": "already-running"}
        async with runner_connect(endpoint) as runner:
            reply = await runner.start_service(name, timeout=SERVICE_START_TIMEOUT)
        _started.add(key)
    log.info(
        "service started",
        extra={"session_id": str(endpoint.session_id), "app": name, "status": reply.get("status")},
    )
    return {"name": name, "status": reply.get("status"), "ports": reply.get("ports")}


def service_start_forget(*, endpoint: KernelEndpoint, name: str) -> None:
    _started.discard((endpoint.kernel_id, name))
