"""The reference's usage endpoints, answered from the ledger: `GET /resource/usage/month`,
`GET /resource/usage/period` and `GET /resource/stats/user/month` (docs/compat/usage.md).

The reference fills `cpu_used`, `mem_used`, `io_read` and `io_write` from live container
statistics, which no ledger row measures: they are `null` here, and the ledger's own
`used_seconds`, `slot_seconds` and `slot_hours` stand beside them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from backendai_site.accounts.models import User
from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.selectors_usage import (
    GROUPABLE,
    UsageTotal,
    usage_rows,
    usage_totals,
    usage_totals_combine,
)

MAX_PERIOD_DAYS = 100
STATS_BIN_SECONDS = 900
STATS_DAYS = 30
_INTRINSIC = ("cpu", "mem")
# what the reference reads from live container statistics, which the ledger does not measure
_UNMEASURED = ("cpu_used", "mem_used", "io_read", "io_write", "gpu_allocated", "gpu_mem_allocated")


def _local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def usage_month_bounds(month: str) -> tuple[datetime, datetime]:
    """`yyyymm` as `[first day 00:00, first day of the next month)` in the site's time zone."""
    try:
        if len(month) != 6 or not month.isdigit():
            raise ValueError(month)
        start = datetime.strptime(month, "%Y%m").replace(tzinfo=_local_tz())
        end = (start + timedelta(days=32)).replace(day=1)
    except (ValueError, OverflowError):
        raise InvalidAPIParameters(f"month must be yyyymm, not {month[:16]!r}") from None
    return start, end


def usage_period_bounds(start_date: str, end_date: str) -> tuple[datetime, datetime]:
    """`yyyymmdd`..`yyyymmdd`, the end day included, at most 100 days."""
    try:
        for text in (start_date, end_date):
            if len(text) != 8 or not text.isdigit():
                raise ValueError(text)
        start = datetime.strptime(start_date, "%Y%m%d").replace(tzinfo=_local_tz())
        end = datetime.strptime(end_date, "%Y%m%d").replace(tzinfo=_local_tz())
        end += timedelta(days=1)
    except (ValueError, OverflowError):
        raise InvalidAPIParameters("start_date and end_date must be yyyymmdd") from None
    if end <= start:
        raise InvalidAPIParameters("end_date must not be before start_date")
    if end - start > timedelta(days=MAX_PERIOD_DAYS):
        raise InvalidAPIParameters(f"a period may span at most {MAX_PERIOD_DAYS} days")
    return start, end


def _num(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _accelerator_amount(slots: dict[str, Any]) -> Decimal:
    return sum((Decimal(str(v)) for k, v in slots.items() if k not in _INTRINSIC), start=Decimal(0))


def _accelerator_types(slots: dict[str, Any]) -> list[str]:
    return sorted({name.split(".", 1)[0] for name in slots if name not in _INTRINSIC})


def _combined(totals: list[UsageTotal]) -> UsageTotal:
    combined = usage_totals_combine(totals)
    assert combined is not None
    return combined


def _ledger_fields(total: UsageTotal) -> dict[str, Any]:
    return {
        "used_seconds": _num(total.seconds),
        "slot_seconds": {k: _num(v) for k, v in sorted(total.slot_seconds.items())},
        "slot_hours": {k: float(v) for k, v in sorted(total.slot_hours().items())},
    }


def _container_info(total: UsageTotal) -> dict[str, Any]:
    fields = dict(zip(GROUPABLE, total.key, strict=True))
    slots = total.slots
    assert total.first_at is not None and total.last_at is not None
    tz = _local_tz()
    used_days = (
        total.last_at.astimezone(tz).toordinal() - total.first_at.astimezone(tz).toordinal() + 1
    )
    return {
        "id": str(fields["kernel_id"]),
        "session_id": str(fields["session_id"]),
        "name": fields["session_name"],
        "access_key": fields["access_key"],
        "email": fields["user_email"],
        "domain_name": fields["domain_name"],
        "group_id": str(fields["project_id"]),
        "group_name": fields["project_name"],
        "scaling_group": fields["resource_group"],
        "agent": fields["agent_id"],
        "image_name": fields["image"],
        "cpu_allocated": float(Decimal(str(slots.get("cpu", 0)))),
        "mem_allocated": int(Decimal(str(slots.get("mem", 0)))),
        "gpu_allocated": float(_accelerator_amount(slots)),
        "smp": float(_accelerator_amount(slots)),
        "device_type": _accelerator_types(slots),
        "cpu_used": None,
        "mem_used": None,
        "io_read": None,
        "io_write": None,
        "nfs": None,
        "created_at": total.first_at.isoformat(),
        "terminated_at": total.last_at.isoformat(),
        "used_time": str(timedelta(seconds=float(total.seconds))),
        "used_days": used_days,
        **_ledger_fields(total),
    }


def usage_per_month(*, actor: User, month: str, group_ids: Sequence[UUID] | None) -> list[dict]:
    """Per project (the reference's "group"), its kernels' usage in `month`."""
    start, end = usage_month_bounds(month)
    rows = usage_rows(actor=actor, start=start, end=end, project_ids=group_ids)
    groups: dict[str, dict[str, Any]] = {}
    kernel_totals = usage_totals(rows, by=GROUPABLE)
    project_of = GROUPABLE.index("project_id")
    by_project: dict[str, list[UsageTotal]] = {}
    for total in kernel_totals:
        by_project.setdefault(str(total.key[project_of]), []).append(total)
    for total in kernel_totals:
        info = _container_info(total)
        group = groups.get(info["group_id"])
        if group is None:
            group = groups[info["group_id"]] = {
                "domain_name": info["domain_name"],
                "g_id": info["group_id"],
                "g_name": info["group_name"],
                "g_cpu_allocated": 0.0, "g_mem_allocated": 0, "g_gpu_allocated": 0.0,
                "g_smp": 0.0, "g_device_type": [],
                "g_cpu_used": None, "g_mem_used": None, "g_io_read": None, "g_io_write": None,
                "c_infos": [],
                **_ledger_fields(_combined(by_project[info["group_id"]])),
            }  # fmt: skip
        group["g_cpu_allocated"] += info["cpu_allocated"]
        group["g_mem_allocated"] += info["mem_allocated"]
        group["g_gpu_allocated"] += info["gpu_allocated"]
        group["g_smp"] += info["smp"]
        group["g_device_type"] = sorted({*group["g_device_type"], *info["device_type"]})
        group["c_infos"].append(info)
    return list(groups.values())


def usage_per_period(
    *, actor: User, project_id: UUID | None, start_date: str, end_date: str
) -> list[dict]:
    """Per project, its users' and its own usage in the period."""
    start, end = usage_period_bounds(start_date, end_date)
    rows = usage_rows(
        actor=actor, start=start, end=end, project_ids=[project_id] if project_id else None
    )
    # one grouping per (project, user); a project's own total is the sum of its users'
    by_project: dict[tuple[Any, ...], list[UsageTotal]] = {}
    for total in usage_totals(
        rows, by=("project_id", "project_name", "domain_name", "user_id", "user_email")
    ):
        by_project.setdefault(total.key[:3], []).append(total)
    out = []
    for (project, name, domain), user_totals in by_project.items():
        total = _combined(user_totals)
        out.append(
            {
                "project_id": str(project),
                "project_name": name,
                "domain_name": domain,
                "group_unit": "project",
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "total_usage": {
                    "kernels": total.kernels,
                    **dict.fromkeys(_UNMEASURED),
                    "device_type": _accelerator_types(dict(total.slot_seconds)),
                    **_ledger_fields(total),
                },
                "users": [
                    {
                        "user_id": str(user.key[3]),
                        "user_email": user.key[4],
                        "total_usage": {"kernels": user.kernels, **_ledger_fields(user)},
                    }
                    for user in user_totals
                ],
            }
        )
    return out


def user_month_stats(*, actor: User, now: datetime | None = None) -> list[dict]:
    """The actor's own last 30 days in 15-minute bins (the reference's dashboard series): per bin
    the sessions that ran in it and the cpu/mem/accelerator amounts they held."""
    now = now or timezone.now()
    start = now - timedelta(days=STATS_DAYS)
    first_bin = int(start.timestamp()) // STATS_BIN_SECONDS * STATS_BIN_SECONDS
    bins: list[dict[str, Any]] = [
        {
            "date": float(first_bin + i * STATS_BIN_SECONDS),
            "num_sessions": {"value": 0, "unit_hint": "count"},
            "cpu_allocated": {"value": 0.0, "unit_hint": "count"},
            "mem_allocated": {"value": 0, "unit_hint": "bytes"},
            "gpu_allocated": {"value": 0.0, "unit_hint": "count"},
        }
        for i in range((int(now.timestamp()) - first_bin) // STATS_BIN_SECONDS + 1)
    ]
    rows = usage_rows(actor=actor, start=start, end=now + timedelta(hours=1), user_id=actor.pk)
    seen: set[tuple[int, Any]] = set()
    for row in rows.only("kernel_id", "started_at", "ended_at", "slots", "kind"):
        slots = row.slots or {}
        first = max(0, (int(row.started_at.timestamp()) - first_bin) // STATS_BIN_SECONDS)
        last_ts = max(row.started_at.timestamp(), row.ended_at.timestamp() - 1e-6)
        last = min(len(bins) - 1, (int(last_ts) - first_bin) // STATS_BIN_SECONDS)
        for index in range(first, last + 1):
            entry = bins[index]
            if row.kind == "interval" and (index, row.kernel_id) not in seen:
                seen.add((index, row.kernel_id))
                entry["num_sessions"]["value"] += 1
                entry["cpu_allocated"]["value"] += float(Decimal(str(slots.get("cpu", 0))))
                entry["mem_allocated"]["value"] += int(Decimal(str(slots.get("mem", 0))))
                entry["gpu_allocated"]["value"] += float(_accelerator_amount(slots))
    return bins
