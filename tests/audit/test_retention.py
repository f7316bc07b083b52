"""Retention: the purge deletes only entries past `BAI_AUDIT_RETENTION_DAYS`, in batches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backendai_site.audit.enums import AuditOutcome
from backendai_site.audit.models import AuditLogEntry
from backendai_site.audit.services import audit_entries_purge
from backendai_site.audit.tasks import audit_log_purge
from backendai_site.celery_schedule import beat_schedule
from backendai_site.config import SiteConfig, get_config

pytestmark = pytest.mark.django_db


def entry_aged(days: float) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        at=timezone.now() - timedelta(days=days),
        request_id="r",
        action="POST /x",
        outcome=AuditOutcome.SUCCESS,
        status_code=200,
        method="POST",
        path="/x",
    )


class TestPurge:
    def test_only_entries_past_retention_go(self) -> None:
        kept = [entry_aged(0), entry_aged(29.9)]
        for days in (30.1, 31, 400):
            entry_aged(days)

        deleted = audit_entries_purge(retention_days=30, batch_size=1000)

        assert deleted == 3
        assert sorted(AuditLogEntry.objects.values_list("pk", flat=True)) == sorted(
            e.pk for e in kept
        )

    def test_deletes_in_bounded_batches(self) -> None:
        for _ in range(5):
            entry_aged(100)

        with CaptureQueriesContext(connection) as queries:
            deleted = audit_entries_purge(retention_days=30, batch_size=2)

        deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
        assert deleted == 5
        assert len(deletes) == 3
        assert not AuditLogEntry.objects.exists()

    def test_the_task_reads_the_retention_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        young, old = entry_aged(5), entry_aged(15)
        monkeypatch.setattr(get_config().audit, "retention_days", 10)

        assert audit_log_purge() == 1
        assert list(AuditLogEntry.objects.values_list("pk", flat=True)) == [young.pk]
        assert old.pk != young.pk


class TestSetting:
    def test_retention_defaults_to_a_year_and_reads_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert SiteConfig().audit.retention_days == 365

        monkeypatch.setenv("BAI_AUDIT_RETENTION_DAYS", "90")
        monkeypatch.setenv("BAI_AUDIT_PURGE_INTERVAL", "600")
        config = SiteConfig()

        assert config.audit.retention_days == 90
        entry = beat_schedule(config)["audit-log-purge"]
        assert entry["task"] == "audit.audit_log_purge"
        assert (entry["schedule"], entry["options"]["expires"]) == (600.0, 600.0)

    def test_a_retention_below_one_day_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("BAI_AUDIT_RETENTION_DAYS", "0")

        with pytest.raises(ValueError, match="retention_days"):
            SiteConfig()
