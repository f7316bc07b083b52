"""Shared fixtures: tenancy scenarios, signed requests, Redis isolation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.services import default_tenancy_ensure
from backendai_site.common.redis import get_redis
from backendai_site.devservices import database_url_from_settings
from tests.factories.agents import ImageAliasFactory, ImageFactory, ResourceGroupFactory
from tests.factories.world import ComputeWorld, add_agent, make_member
from tests.helpers import processes
from tests.helpers.credentials import (
    Credentials,
    make_credentials,
    signed_headers,
)
from tests.helpers.net import LiveServer, free_port
from tests.helpers.paths import REPO_ROOT


def pytest_configure(config: pytest.Config) -> None:
    """A run started as a background job of a non-interactive shell (as CI starts it) inherits
    SIGINT ignored, and so does every process it starts. The official client's `session ssh` and
    `session scp` stop their `backend.ai app` proxy with SIGINT and wait for it: with SIGINT
    ignored that wait never ends. A handler here is reset to the default in each child's exec."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture
def user_credentials(db: None) -> Credentials:
    return make_credentials()


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

CLIENT_VERSION = "26.9.6"


@pytest.fixture(scope="session")
def live_api_server(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The real ASGI stack (uvicorn) on a free loopback port, on the test database."""
    from django.db import connection

    port = free_port()
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
        creds: Credentials, *args: str, timeout: float = 120, input: str | None = None
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
            input=input,  # answers the CLI's confirmation prompts
        )

    return run


# --- a small compute world (sessions, GraphQL and client tests) -------------------------------


@pytest.fixture
def world(db: None) -> ComputeWorld:
    defaults = default_tenancy_ensure()
    group = ResourceGroupFactory.create(name="default", is_public=True)
    agent = add_agent(group)
    image = ImageFactory.create(
        name="bai/python",
        tag="3.11",
        min_resources={"cpu": "1", "mem": str(64 * 1024**2)},
        service_ports=[{"name": "http", "protocol": "http", "container_ports": [8080]}],
    )
    ImageAliasFactory.create(alias="python", image=image)
    return ComputeWorld(
        domain=defaults.domain,
        project=defaults.project,
        group=group,
        agent=agent,
        image=image,
        user=make_member(defaults.project, "user@example.com"),
        admin=make_member(defaults.project, "admin@example.com", UserRole.SUPERADMIN),
    )
