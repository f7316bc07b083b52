"""A real Prometheus server scrapes the web role's /metrics and answers a query through its own
HTTP API. The web role runs under gunicorn with two workers and a scheduler pass runs in a third
process, all in one PROMETHEUS_MULTIPROC_DIR, as `make run` starts them: the counts Prometheus
sees are the sum over every process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from backendai_site.devservices import database_url_from_settings
from sessions_app.models import Session
from tests.factories.sessions import agent_with_capacity
from tests.helpers import processes
from tests.helpers.net import free_port
from tests.helpers.paths import REPO_ROOT
from tests.helpers.scheduler import make_group, pending
from tests.helpers.stack import require

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0
REQUESTS = 7


@dataclass(frozen=True)
class Web:
    url: str
    port: int
    env: dict[str, str]
    log: Path


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    require(found is not None, "Debian's prometheus is not installed (scripts/test.sh installs it)")
    assert found is not None
    return found


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            get(url, timeout=1)
            return
        except (OSError, urllib.error.HTTPError):
            if process.poll() is not None:
                pytest.fail(f"{process.args!r} exited: {log.read_text()[-3000:]}")
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer in {START_TIMEOUT} s: {log.read_text()[-3000:]}")


@pytest.fixture
def web(transactional_db: None, tmp_path: Path) -> Iterator[Web]:
    metrics_dir = tmp_path / "multiproc"
    metrics_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_from_settings(connection.settings_dict),
        "BAI_LOG_JSON": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        proc = processes.spawn(
            [str(BIN / "gunicorn"), "backendai_site.asgi:application",
             "-k", "backendai_site.workers.WebWorker", "-b", f"127.0.0.1:{port}", "-w", "2"],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/metrics", proc, log)  # not `/`: the test counts those exactly
        yield Web(url=url, port=port, env=env, log=log)
    finally:
        processes.stop(proc, timeout=20)


@pytest.fixture
def prometheus(web: Web, tmp_path: Path) -> Iterator[str]:
    binary = prometheus_binary()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: bai-web\n    metrics_path: /metrics\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{web.port}']\n"
    )
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = processes.spawn(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/-/ready", proc, log)
        yield url
    finally:
        processes.stop(proc, timeout=20)


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    body = json.loads(
        get(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    )
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def scalar_eventually(prometheus: str, promql: str, expected: float) -> None:
    """Waits for `promql` (one series) to equal `expected` in Prometheus' answer."""
    deadline = time.monotonic() + START_TIMEOUT
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = query(prometheus, promql)
        if len(seen) == 1 and float(seen[0]["value"][1]) == expected:
            return
        time.sleep(0.5)
    pytest.fail(f"{promql}: expected {expected}, Prometheus answered {seen}")


def test_prometheus_scrapes_every_process_of_the_web_and_manager(
    web: Web, prometheus: str, tmp_path: Path
) -> None:
    group = make_group()
    agent_with_capacity(group, cpu=1)
    for _ in range(2):
        pending(group, cpu="2")  # never fits: both stay pending
    for _ in range(REQUESTS):
        get(web.url + "/")
    # a scheduler pass in another process, as a manager worker would run it
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from sessions_app.scheduler.runner import schedule_resource_group as run; "
         f"run({group.pk})"],
        cwd=REPO_ROOT, env=web.env, check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    assert Session.objects.filter(resource_group=group, status="PENDING").count() == 2

    scalar_eventually(prometheus, 'up{job="bai-web"}', 1)
    # the sum over both gunicorn workers: each request was counted once, by whichever served it
    scalar_eventually(
        prometheus, 'sum(bai_http_requests_total{route="/",method="GET",status="200"})', REQUESTS
    )
    scalar_eventually(
        prometheus, f'bai_scheduler_pending_sessions{{resource_group="{group.name}"}}', 2
    )
    scalar_eventually(
        prometheus,
        f'sum(bai_scheduler_verdicts_total{{resource_group="{group.name}"}})',
        2,
    )
    latency = query(
        prometheus, 'sum(bai_http_request_duration_seconds_count{route="/",status="200"})'
    )
    assert float(latency[0]["value"][1]) == REQUESTS
