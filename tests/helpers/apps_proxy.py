"""A real upstream app and the app proxy, each served by uvicorn on a loopback port."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

import uvicorn
from django.utils import timezone

from agents_app.models import Agent
from proxy_app.apps_proxy.asgi import AppsProxyRouter
from sessions_app.enums import SessionStatus
from sessions_app.models import Kernel, Session
from tests.factories.agents import AgentFactory
from tests.factories.sessions import SessionFactory, owner_session_kwargs
from tests.helpers.credentials import Credentials
from tests.helpers.net import free_port

DOMAIN = "apps.test"


MIB = 1024 * 1024


@dataclass
class Upstream:
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    ws_connects: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            self.ws_connects += 1
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    await send({"type": "websocket.send", "text": "echo:" + message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})
        if scope["type"] != "http":
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append({"path": scope["path"], "headers": headers})
        digest, size = hashlib.sha256(), 0
        while True:
            message = await receive()
            digest.update(message.get("body", b""))
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["path"].startswith("/big/"):
            total = int(scope["path"].rsplit("/", 1)[1]) * MIB
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(total).encode())]})  # fmt: skip
            block = b"x" * MIB
            for _ in range(total // MIB):
                await send({"type": "http.response.body", "body": block, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        body = f"{scope['method']} {scope['path']} {size} {digest.hexdigest()}".encode()
        reply_headers = [(b"content-type", b"text/plain"), (b"x-upstream", b"yes")]
        await send({"type": "http.response.start", "status": 200, "headers": reply_headers})
        await send({"type": "http.response.body", "body": body})


async def inner_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"inner"})


def serve(app: Any) -> tuple[int, uvicorn.Server, threading.Thread]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return port, server, thread


@dataclass
class Proxy:
    port: int
    router: AppsProxyRouter

    def url(self, label: str, path: str = "/") -> str:
        return f"http://{label}.{DOMAIN}:{self.port}{path}"


def app_session(owner: Credentials, port: int) -> Session:
    agent = cast(Agent, AgentFactory(advertised_host="127.0.0.1"))
    session = cast(
        Session,
        SessionFactory(
            status=SessionStatus.RUNNING,
            status_changed=timezone.now(),
            **owner_session_kwargs(owner.keypair),
        ),
    )
    Kernel.objects.filter(session=session).update(
        agent=agent,
        service_ports=[
            {"name": "http", "protocol": "http", "container_ports": [8080]},
            {"name": "terminal", "protocol": "pty", "container_ports": [7681]},
        ],
        host_ports={"http": port, "terminal": port + 1, "runner": port + 2},
        runner_port=port + 2,
    )
    return session
