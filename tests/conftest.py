"""Shared fixtures: tenancy scenarios, signed requests, Redis isolation."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from backendai_site.accounts.auth.signing import sign_request
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, User
from backendai_site.accounts.services import keypair_issue
from backendai_site.common.redis import get_redis
from backendai_site.config import API_VERSION
from backendai_site.devservices import database_url_from_settings
from tests.factories.accounts import KeypairResourcePolicyFactory, UserFactory
from tests.helpers import processes

TEST_HOST = "127.0.0.1:8091"


@dataclass(frozen=True)
class Credentials:
    user: User
    keypair: KeyPair
    secret_key: str

    @property
    def access_key(self) -> str:
        return self.keypair.access_key


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """A test database per pytest process, so runs side by side on one server do not collide."""
    from django.conf import settings

    test = settings.DATABASES["default"].setdefault("TEST", {})
    test["NAME"] = f"test_backendai_{os.getpid()}"
    # no connection pool in tests: pooled connections of in-process servers' threads would
    # keep the test database open when it is dropped
    settings.DATABASES["default"]["OPTIONS"].pop("pool", None)


@pytest.fixture(autouse=True)
def _isolated_redis_state() -> Iterator[None]:
    """Forget rate-limit and login counters between tests."""
    client = get_redis()
    for pattern in ("bai:ratelimit:*", "bai:loginfail:*", "bai:lastused:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    yield


def make_credentials(role: UserRole = UserRole.USER, **user_fields: Any) -> Credentials:
    KeypairResourcePolicyFactory.create()
    user = UserFactory.create(role=role, **user_fields)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


@pytest.fixture
def user_credentials(db: None) -> Credentials:
    return make_credentials()


SignedCall = Callable[..., Any]


def signed_headers(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    rel_url: str,
    content_type: str = "text/plain",
    host: str = TEST_HOST,
    date: datetime | None = None,
    version: str = API_VERSION,
    prefix: str = "BackendAI",
) -> dict[str, Any]:
    """Django test-client META for a request signed like the official client signs it."""
    date = date or datetime.now(UTC)
    raw_date = date.isoformat()
    signature = sign_request(
        secret_key=secret_key,
        method=method,
        rel_url=rel_url,
        raw_date=raw_date,
        request_date=date,
        host=host,
        content_type=content_type,
        api_version=version,
    )
    return {
        "HTTP_HOST": host,
        "HTTP_DATE": raw_date,
        "HTTP_X_BACKENDAI_VERSION": version,
        "HTTP_AUTHORIZATION": (
            f"{prefix} signMethod=HMAC-SHA256, credential={access_key}:{signature}"
        ),
        "CONTENT_TYPE": content_type,
    }


@pytest.fixture
def signed_get(client: Client) -> Callable[..., Any]:
    """GET `rel_url` signed with the given credentials (extra kwargs override signing inputs)."""

    def call(creds: Credentials, rel_url: str, **overrides: Any) -> Any:
        sign_args: dict[str, Any] = {
            "access_key": creds.access_key,
            "secret_key": creds.secret_key,
            "method": "GET",
            "rel_url": rel_url,
        }
        sign_args.update(overrides)
        return client.get(rel_url, **signed_headers(**sign_args))

    return call


# --- live server and the official client ------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent
CLIENT_VERSION = "26.9.6"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy (and return it), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass(frozen=True)
class LiveServer:
    url: str
    port: int
    env: dict[str, str]


@pytest.fixture(scope="session")
def live_api_server(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The real ASGI stack (uvicorn) on a free loopback port, on the test database."""
    from django.db import connection

    port = _free_port()
    log_path = tmp_path_factory.mktemp("live") / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_from_settings(connection.settings_dict),
        "BAI_LOG_JSON": "false",
    }
    with log_path.open("wb") as log:
        proc = processes.spawn(
            [sys.executable, "-m", "uvicorn", "backendai_site.asgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"live server exited: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
        else:
            pytest.fail("live server did not start in 60 s")
        yield LiveServer(url=url, port=port, env=env)
    finally:
        processes.stop(proc, timeout=10)


@pytest.fixture(scope="session")
def official_client() -> Path:
    """`backend.ai` from backend.ai-client==26.9.6 in its own cached virtualenv under .data/."""
    from backendai_site.config import get_config

    venv = get_config().data_dir / "client-venv"
    cli = venv / "bin" / "backend.ai"
    marker = venv / f".installed-{CLIENT_VERSION}"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        result = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"backend.ai-client=={CLIENT_VERSION}"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            pytest.fail(f"installing backend.ai-client failed: {result.stderr[-2000:]}")
        marker.touch()
    return cli


@pytest.fixture
def run_cli(
    official_client: Path, live_api_server: LiveServer, tmp_path: Path
) -> Callable[..., Any]:
    """Run the official CLI against the live server with the given credentials."""

    def run(
        creds: Credentials, *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{official_client.parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "BACKEND_ENDPOINT": live_api_server.url,
            "BACKEND_ENDPOINT_TYPE": "api",
            "BACKEND_ACCESS_KEY": creds.access_key,
            "BACKEND_SECRET_KEY": creds.secret_key,
        }
        return subprocess.run(
            [str(official_client), *args],
            cwd=tmp_path,  # no stray .env file can override the environment here
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
