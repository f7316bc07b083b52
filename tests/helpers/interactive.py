"""Signed REST calls and websockets against a running platform stack."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import connect

from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack

API_VERSION = "v9.20250722"


def sign(creds: Credentials, method: str, url: str, content_type: str) -> dict[str, str]:
    """Headers the official client sends (COMPAT.md 2.3)."""
    parts = urlsplit(url)
    host = parts.netloc
    rel_url = parts.path + (f"?{parts.query}" if parts.query else "")
    now = datetime.now(UTC)
    raw_date = now.isoformat()
    body_hash = hashlib.sha256(b"").hexdigest()
    sign_str = (
        f"{method}\n{rel_url}\n{raw_date}\nhost:{host}\ncontent-type:{content_type}\n"
        f"x-backendai-version:{API_VERSION}\n{body_hash}"
    )
    k1 = hmac.new(creds.secret_key.encode(), now.strftime("%Y%m%d").encode(), "sha256").digest()
    k2 = hmac.new(k1, host.encode(), "sha256").digest()
    signature = hmac.new(k2, sign_str.encode(), "sha256").hexdigest()
    return {
        "Date": raw_date,
        "X-BackendAI-Version": API_VERSION,
        "Authorization": (
            f"BackendAI signMethod=HMAC-SHA256, credential={creds.access_key}:{signature}"
        ),
    }


def api(
    stack: Stack, creds: Credentials, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """A signed JSON call; returns (status, parsed body or raw bytes)."""
    import urllib.error
    import urllib.request

    url = stack.url + path
    data = json.dumps(body).encode() if body is not None else b""
    content_type = "application/json" if body is not None else "text/plain"
    headers = {**sign(creds, method, url, content_type), "Content-Type": content_type}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def ws_url(stack: Stack, path: str) -> str:
    return stack.url.replace("http://", "ws://") + path


def ws_open(stack: Stack, creds: Credentials, path: str) -> Any:
    """A signed websocket handshake (no Content-Type; signed as octet-stream)."""
    url = stack.url + path
    return connect(
        ws_url(stack, path),
        additional_headers=sign(creds, "GET", url, "application/octet-stream"),
        max_size=None,
    )


def ws_refused_status(stack: Stack, creds: Credentials, path: str) -> int:
    """The HTTP status a refused handshake gets; fails if the handshake succeeds."""

    async def attempt() -> int:
        try:
            async with ws_open(stack, creds, path) as socket:
                raise AssertionError(f"handshake accepted; first frame: {await socket.recv()}")
        except websockets.InvalidStatus as exc:
            return int(exc.response.status_code)

    return asyncio.run(attempt())


def pty_stdin(text: str) -> str:
    return json.dumps({"type": "stdin", "chars": base64.b64encode(text.encode()).decode()})


Runner = Callable[..., Any]
