"""The live stack (tests/integration/sessions) with fast idle checks, signed HTTP calls, and a
headless Debian chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from backendai_site.accounts.auth.signing import sign_request
from backendai_site.config import API_VERSION
from tests.helpers.browser import Signed
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(reason)


@pytest.fixture
def fast_idle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment the stack's processes inherit: idle checks every second."""
    monkeypatch.setenv("BAI_IDLE_CHECK_INTERVAL", "1")


@pytest.fixture
def stack(fast_idle_env: None, platform_stack: Stack) -> Stack:
    return platform_stack


@pytest.fixture
def signed() -> Signed:
    """A request to the stack signed like the official client signs it."""

    def call(
        stack: Stack, creds: Credentials, method: str, path: str, json: Any = None
    ) -> httpx.Response:
        now = datetime.now(UTC)
        host = stack.url.split("://", 1)[1]
        content_type = "application/json"
        signature = sign_request(
            secret_key=creds.secret_key, method=method, rel_url=path, raw_date=now.isoformat(),
            request_date=now, host=host, content_type=content_type, api_version=API_VERSION,
        )  # fmt: skip
        headers = {
            "Date": now.isoformat(),
            "X-BackendAI-Version": API_VERSION,
            "Content-Type": content_type,
            "Authorization": f"BackendAI signMethod=HMAC-SHA256, credential={creds.access_key}:"
            f"{signature}",
        }
        with httpx.Client(base_url=stack.url, timeout=120) as client:
            return client.request(method, path, headers=headers, json=json)

    return call


@pytest.fixture
def chromium_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    need(shutil.which(CHROMIUM) is not None, f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "the playwright package is not installed")
        raise
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=False)
    need(version.returncode == 0, f"{CHROMIUM} does not start: {version.stderr[-300:]}")
    # Playwright's sync API keeps an event loop in this thread; the test's ORM calls are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()
