"""Ledger rows of known usage for the fair-share tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from agents_app.models import ResourceGroup
from sessions_app.models import Session, UsageInterval

HOUR = timedelta(hours=1)


def ledger_hours(
    owner: Session, group: ResourceGroup, *, hours: int, ended: datetime, cpu: str = "1"
) -> None:
    """`hours` one-hour ledger intervals of `owner`'s user in `group`, ending at `ended`."""
    seconds = Decimal(3600)
    rows = []
    for i in range(hours):
        row = UsageInterval(
            kernel_id=uuid.uuid4(), session_id=uuid.uuid4(), session_name="earlier",
            user_id=owner.user_id, user_email=owner.user.email, access_key=owner.access_key_id,
            project_id=owner.project_id, project_name=owner.project.name,
            domain_name=owner.domain.name, resource_group=group.name,
            started_at=ended - (i + 1) * HOUR, ended_at=ended - i * HOUR, seconds=seconds,
            slots={"cpu": cpu}, slot_seconds={"cpu": str(Decimal(cpu) * seconds)},
        )  # fmt: skip
        rows.append(row)
    UsageInterval.objects.bulk_create(rows)
