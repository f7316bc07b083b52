"""Idle checks on the real database and Redis: access marks, the three checkers, seconds left in
`GET /session/{ref}`, and sessions ended with a recorded reason."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from django.test import Client
from django.utils import timezone

from agents_app.schemas import KernelStat, KernelStats
from backendai_site.accounts.enums import UserRole
from backendai_site.common.redis import get_redis
from backendai_site.config import get_config
from sessions_app.enums import SessionStatus, SessionType
from sessions_app.models import Kernel, Session, SessionStatusHistory
from sessions_app.services import idle
from tests.factories.sessions import SessionFactory, limited_policy, owner_session_kwargs
from tests.helpers.credentials import Credentials, make_credentials


@pytest.fixture(autouse=True)
def _clean_idle_keys() -> Iterator[None]:
    client = get_redis()
    idle._last_mark.clear()
    yield
    for key in client.scan_iter("bai:idle:*"):
        client.delete(key)


@pytest.fixture
def owner(db: None) -> Credentials:
    creds = make_credentials()
    creds.keypair.resource_policy = limited_policy(
        "idle-test", idle_timeout=60, max_session_lifetime=3600
    )
    creds.keypair.save(update_fields=["resource_policy"])
    return creds


def running_session(owner: Credentials, **fields: Any) -> Session:
    fields.setdefault("status_changed", timezone.now())
    session = cast(
        Session,
        SessionFactory(
            status=SessionStatus.RUNNING, **owner_session_kwargs(owner.keypair), **fields
        ),
    )
    Kernel.objects.filter(session=session).update(occupied_slots={"cpu": "1"})
    return session


class TestSessionMarkAccess:
    def test_writes_at_most_once_per_second(self, owner: Credentials) -> None:
        session = running_session(owner)
        t0 = time.time()

        first = idle.session_mark_access(session.pk, now=t0)
        second = idle.session_mark_access(session.pk, now=t0 + 0.5)
        third = idle.session_mark_access(session.pk, now=t0 + 1.2)

        assert (first, second, third) == (True, False, True)
        assert idle.session_last_access(session.pk) == pytest.approx(t0 + 1.2, abs=0.01)


class TestNetworkTimeout:
    def test_seconds_left_count_from_the_last_access(self, owner: Credentials) -> None:
        session = running_session(owner)
        now = time.time()
        idle.session_mark_access(session.pk, now=now - 20)

        checks = idle.session_idle_checks(session, now=now)

        assert checks["network_timeout"]["threshold"] == 60
        assert checks["network_timeout"]["remaining"] == pytest.approx(40, abs=0.2)
        assert checks["session_lifetime"]["remaining"] == pytest.approx(3600, abs=5)
        assert "utilization" not in checks

    def test_expired_session_ends_with_idle_timeout(self, owner: Credentials) -> None:
        session = running_session(owner)
        kept = running_session(owner)
        now = time.time()
        idle.session_mark_access(session.pk, now=now - 61)
        idle.session_mark_access(kept.pk, now=now - 5)

        ended = idle.sessions_idle_check(now=now)

        assert ended == [(session.pk, "idle-timeout")]
        session.refresh_from_db()
        assert session.status in (SessionStatus.TERMINATING, SessionStatus.TERMINATED)
        assert session.status_info == "idle-timeout"
        reasons = set(
            SessionStatusHistory.objects.filter(session=session).values_list("reason", flat=True)
        )
        assert "idle-timeout" in reasons
        assert Session.objects.get(pk=kept.pk).status == SessionStatus.RUNNING

    def test_without_marks_counts_from_running(self, owner: Credentials) -> None:
        session = running_session(owner, status_changed=timezone.now() - timedelta(seconds=90))

        ended = idle.sessions_idle_check()

        assert ended == [(session.pk, "idle-timeout")]

    def test_batch_sessions_have_no_network_timeout(self, owner: Credentials) -> None:
        session = running_session(
            owner,
            session_type=SessionType.BATCH,
            status_changed=timezone.now() - timedelta(seconds=90),
        )

        assert "network_timeout" not in idle.session_idle_checks(session)
        assert idle.sessions_idle_check() == []

    def test_second_run_is_harmless(self, owner: Credentials) -> None:
        running_session(owner, status_changed=timezone.now() - timedelta(seconds=90))

        first = idle.sessions_idle_check()
        second = idle.sessions_idle_check()

        assert len(first) == 1 and second == []


class TestSessionLifetime:
    def test_outlived_session_ends_with_max_lifetime(self, owner: Credentials) -> None:
        session = running_session(owner, created=timezone.now() - timedelta(seconds=3601))
        idle.session_mark_access(session.pk)

        ended = idle.sessions_idle_check()

        assert ended == [(session.pk, "max-lifetime")]
        session.refresh_from_db()
        assert session.status_info == "max-lifetime"

    def test_not_running_sessions_show_no_checks(self, owner: Credentials) -> None:
        session = running_session(owner)
        Session.objects.filter(pk=session.pk).update(status=SessionStatus.PENDING)
        session.refresh_from_db()

        assert idle.session_idle_checks(session) == {}


@pytest.fixture
def utilization_window(monkeypatch: pytest.MonkeyPatch) -> float:
    config = get_config().idle
    monkeypatch.setattr(config, "utilization_window", 30.0)
    monkeypatch.setattr(config, "utilization_grace", 0.0)
    monkeypatch.setattr(config, "utilization_cpu_percent", 5.0)
    monkeypatch.setattr(config, "utilization_mem_percent", 50.0)
    return 30.0


def stats_feed(session: Session) -> Callable[[float, float, int], None]:
    kernel = Kernel.objects.get(session=session)

    def feed(at: float, cpu_seconds: float, mem_bytes: int) -> None:
        stat = KernelStat(
            kernel_id=str(kernel.pk),
            cpu_used_seconds=cpu_seconds,
            mem_bytes=mem_bytes,
            mem_limit_bytes=1000,
        )
        idle.kernel_stats_record(
            KernelStats(agent_id="a1", kernels=[stat], at=datetime.fromtimestamp(at, UTC))
        )

    return feed


class TestUtilization:
    def test_quiet_kernel_ends_after_the_window(
        self, owner: Credentials, utilization_window: float
    ) -> None:
        session = running_session(owner, status_changed=timezone.now() - timedelta(seconds=60))
        idle.session_mark_access(session.pk)
        feed = stats_feed(session)
        now = time.time()
        for step in range(7):  # 1% CPU of one core, 10% memory, every 5 s for 30 s
            feed(now - 30 + step * 5, step * 0.05, 100)

        checks = idle.session_idle_checks(session, now=now)
        ended = idle.sessions_idle_check(now=now + 1)

        assert checks["utilization"]["remaining"] <= 0.5
        assert ended == [(session.pk, "idle-utilization")]

    def test_busy_kernel_keeps_its_window(
        self, owner: Credentials, utilization_window: float
    ) -> None:
        session = running_session(owner, status_changed=timezone.now() - timedelta(seconds=60))
        idle.session_mark_access(session.pk)
        feed = stats_feed(session)
        now = time.time()
        feed(now - 20, 0.0, 100)
        feed(now - 10, 5.0, 100)  # 50% CPU in the last 10 s

        checks = idle.session_idle_checks(session, now=now)

        assert checks["utilization"]["remaining"] == pytest.approx(20, abs=0.5)
        assert idle.sessions_idle_check(now=now) == []

    def test_grace_period_protects_a_fresh_session(
        self, owner: Credentials, utilization_window: float, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(get_config().idle, "utilization_grace", 120.0)
        session = running_session(owner)
        idle.session_mark_access(session.pk)

        checks = idle.session_idle_checks(session)

        assert checks["utilization"]["remaining"] == pytest.approx(150, abs=2)


class TestSessionInfoShowsIdleChecks:
    def test_get_session_has_seconds_left(
        self, owner: Credentials, signed_get: Callable[..., Any]
    ) -> None:
        session = running_session(owner)
        idle.session_mark_access(session.pk, now=time.time() - 10)

        response = signed_get(owner, f"/session/{session.pk}")

        assert response.status_code == 200, response.content
        checks = response.json()["idleChecks"]
        assert checks["network_timeout"]["remaining"] == pytest.approx(50, abs=2)
        assert checks["session_lifetime"]["threshold"] == 3600


class TestIdleChecksOnTheSessionPage:
    def test_the_console_shows_them_in_words(self, owner: Credentials) -> None:
        session = running_session(owner)
        idle.session_mark_access(session.pk, now=time.time() - 20)
        root = make_credentials(email="root@example.com", username="root", role=UserRole.SUPERADMIN)
        client = Client()
        client.force_login(root.user)

        page = client.get(f"/admin/sessions_app/session/{session.pk}/change/").content.decode()

        assert "no client traffic: ends in 39 seconds (limit 1 minute)" in page or (
            "no client traffic: ends in 40 seconds (limit 1 minute)" in page
        )
        assert "session lifetime: ends in" in page
