"""The web role's request metrics and the access rule of `GET /metrics`."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from django.test import Client
from prometheus_client import REGISTRY
from pydantic import ValidationError

from backendai_site.config import MetricsSection, get_config, load_config

TOKEN = "s3cret-token-for-scrapes"


def _requests(route: str, status: str, method: str = "GET") -> float:
    value = REGISTRY.get_sample_value(
        "bai_http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def _latency_count(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "bai_http_request_duration_seconds_count",
        {"method": "GET", "route": route, "status": status},
    )
    return value or 0.0


@pytest.mark.django_db
def test_requests_are_counted_by_route_pattern_and_status(client: Client) -> None:
    before_ok = _requests("/", "200")
    before_missing = _requests("<unmatched>", "404")
    before_latency = _latency_count("/", "200")
    assert client.get("/").status_code == 200
    assert client.get("/no/such/path/123").status_code == 404
    assert client.get("/no/such/path/456").status_code == 404
    assert _requests("/", "200") == before_ok + 1
    assert _latency_count("/", "200") == before_latency + 1
    # both unknown paths share one label: a path never becomes a label value
    assert _requests("<unmatched>", "404") == before_missing + 2


@pytest.mark.django_db
def test_route_label_is_the_pattern_not_the_path(client: Client) -> None:
    route = "/func/"
    before = _requests(route, "200")
    client.get("/func/")
    assert _requests(route, "200") == before + 1
    text = client.get("/metrics").content.decode()
    assert 'route="/func/"' in text


@pytest.mark.django_db
def test_metrics_exposition_from_loopback(client: Client) -> None:
    client.get("/")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "# TYPE bai_http_requests_total counter" in response.content.decode()
    assert "bai_http_request_duration_seconds_bucket" in response.content.decode()


@pytest.mark.django_db
def test_other_addresses_are_refused(client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


@pytest.mark.django_db
def test_allowed_networks_setting(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_config().metrics, "allowed_networks", [ip_network("203.0.113.0/24")])
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


@pytest.mark.django_db
def test_bearer_token(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = "198.51.100.7"
    assert client.get("/metrics", REMOTE_ADDR=remote).status_code == 403
    # a token is refused while none is configured, even from an allowed address
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403
    monkeypatch.setattr(get_config().metrics, "bearer_token", TOKEN)
    ok = client.get("/metrics", REMOTE_ADDR=remote, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert ok.status_code == 200
    wrong = client.get("/metrics", REMOTE_ADDR=remote, HTTP_AUTHORIZATION="Bearer nope-nope")
    assert wrong.status_code == 403


@pytest.mark.django_db
def test_disabled(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_config().metrics, "enabled", False)
    response = client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


@pytest.mark.django_db
def test_only_get(client: Client) -> None:
    assert client.post("/metrics").status_code == 405


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        MetricsSection.model_validate({"allowed_networks": ["not-a-network"]})
    with pytest.raises(ValidationError):
        MetricsSection.model_validate({"bearer_token": "short"})


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAI_METRICS_ENABLED", "false")
    monkeypatch.setenv("BAI_METRICS_ALLOWED_NETWORKS", '["10.1.0.0/16", "fd00::/8"]')
    monkeypatch.setenv("BAI_METRICS_BEARER_TOKEN", TOKEN)
    metrics = load_config().metrics
    assert metrics.enabled is False
    assert metrics.allowed_networks == [ip_network("10.1.0.0/16"), ip_network("fd00::/8")]
    assert metrics.bearer_token == TOKEN
    assert [str(n) for n in MetricsSection().allowed_networks] == ["127.0.0.0/8", "::1/128"]
