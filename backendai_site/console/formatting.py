"""How the console shows numbers, times and the scheduler's verdicts to a person: resource
amounts in human units, durations and ages in words, verdicts as sentences with the numbers.
Pure functions of their arguments (plus the active time zone for clock times), so every admin
page and the dashboard say the same thing the same way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from backendai_site.common.resource_slot import is_bytes_slot

KIB = Decimal(1024)
MIB = KIB**2
GIB = KIB**3
TIB = KIB**4

# badge colours of unfold's `@display(label=...)`: success, info, warning, danger
SESSION_STATUS_LABELS: dict[str, str] = {
    "PENDING": "warning",
    "SCHEDULED": "info",
    "PREPARING": "info",
    "PULLING": "info",
    "PREPARED": "info",
    "CREATING": "info",
    "RUNNING": "success",
    "RUNNING_DEGRADED": "warning",
    "RESTARTING": "warning",
    "TERMINATING": "info",
    "TERMINATED": "info",
    "ERROR": "danger",
    "CANCELLED": "info",
}
AGENT_STATUS_LABELS: dict[str, str] = {
    "ALIVE": "success",
    "RESTARTING": "warning",
    "LOST": "danger",
    "TERMINATED": "info",
}


def _decimal(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() else Decimal(0)


def number(value: Decimal | float | int, places: int = 2) -> str:
    """At most `places` decimals, no trailing zeros: 2.50 -> "2.5", 4.0 -> "4"."""
    amount = _decimal(value).quantize(Decimal(1).scaleb(-places))
    text = format(amount.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def size(value: Decimal | int) -> str:
    """Bytes in binary units, GiB from a tenth of one: 512 MiB -> "0.5 GiB", 64 MiB -> "64 MiB"."""
    amount = _decimal(value)
    if amount == 0:
        return "0 GiB"
    if abs(amount) >= TIB:
        return f"{number(amount / TIB, 1)} TiB"
    if abs(amount) >= GIB / 10:
        return f"{number(amount / GIB, 1)} GiB"
    if abs(amount) >= MIB:
        return f"{number(amount / MIB, 0)} MiB"
    if abs(amount) >= KIB:
        return f"{number(amount / KIB, 0)} KiB"
    return f"{number(amount, 0)} B"


def _plural(amount: Decimal, one: str, many: str) -> str:
    return f"{number(amount)} {one if amount == 1 else many}"


def slot_unit(slot: str) -> str:
    """What one unit of a slot is called, for headings ("CPU cores", "GiB", "GPUs")."""
    if slot == "cpu":
        return "CPU cores"
    if is_bytes_slot(slot):
        return "GiB"
    if slot.endswith(".device"):
        return "GPUs"
    if slot.endswith(".shares"):
        return "GPU shares"
    return slot


def amount(slot: str, value: Any) -> str:
    """One slot's amount in its human unit: cpu 4 -> "4 CPUs", mem -> "8 GiB",
    cuda.device 2 -> "2 GPUs", cuda.shares 0.5 -> "0.5 GPU shares"."""
    dec = _decimal(value)
    if slot == "cpu":
        return _plural(dec, "CPU", "CPUs")
    if is_bytes_slot(slot):
        return size(dec)
    if slot.endswith(".device"):
        return _plural(dec, "GPU", "GPUs")
    if slot.endswith(".shares"):
        return _plural(dec, "GPU share", "GPU shares")
    return f"{number(dec)} {slot}"


def gauge_value(slot: str, value: Any) -> Decimal:
    """An amount in the unit `slot_unit` names (bytes become GiB), for charts and bars."""
    dec = _decimal(value)
    return dec / GIB if is_bytes_slot(slot) else dec


def slot_hours(values: Mapping[str, Any] | None) -> str:
    """Slot-hours already in each slot's unit (`gauge_value`): "12 CPU-core-hours, 3.5
    GiB-hours"."""
    order = {"cpu": 0, "mem": 1}
    given = dict(values or {})
    names = sorted(given, key=lambda name: (order.get(name, 2), name))
    shown = [
        f"{number(_decimal(given[name]), 1)} {_HOUR_UNITS.get(slot_unit(name), name)}-hours"
        for name in names
        if _decimal(given[name])
    ]
    return ", ".join(shown) or "-"


_HOUR_UNITS = {"CPU cores": "core", "GiB": "GiB", "GPUs": "GPU", "GPU shares": "GPU-share"}


def slots(values: Mapping[str, Any] | None) -> str:
    """Several slots, cpu and memory first: "2 CPUs, 4 GiB, 1 GPU"."""
    order = {"cpu": 0, "mem": 1}
    given = dict(values or {})
    names = sorted(given, key=lambda name: (order.get(name, 2), name))
    shown = [amount(name, given[name]) for name in names if _decimal(given[name])]
    return ", ".join(shown) or "nothing"


def used_of(slot: str, used: Any, capacity: Any) -> str:
    """ "0.5 GiB / 23.5 GiB" """
    return f"{amount(slot, used)} / {amount(slot, capacity)}"


def percent(part: Any, whole: Any) -> int:
    whole_dec = _decimal(whole)
    if whole_dec <= 0:
        return 0
    return max(0, min(100, int(_decimal(part) * 100 / whole_dec)))


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration(seconds: float | Decimal | int, *, depth: int = 2) -> str:
    """Seconds in words, the `depth` largest units: 3725 -> "1 hour 2 minutes"."""
    remaining = int(_decimal(seconds))
    if remaining <= 0:
        return "0 seconds"
    parts: list[str] = []
    for name, unit in _UNITS:
        count, remaining = divmod(remaining, unit)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        elif parts:
            break  # "1 day 3 minutes" says less than "1 day"
        if len(parts) == depth:
            break
    return " ".join(parts)


def age(at: datetime | None, now: datetime | None = None) -> str:
    """How long ago: "5 minutes ago", "in 2 hours" for a time ahead, "-" for none."""
    if at is None:
        return "-"
    now = now or timezone.now()
    delta = (now - at).total_seconds()
    if abs(delta) < 1:
        return "just now"
    words = duration(abs(delta), depth=1 if abs(delta) < 3600 else 2)
    return f"{words} ago" if delta > 0 else f"in {words}"


_IDLE_CHECKERS = {
    "network_timeout": "no client traffic",
    "session_lifetime": "session lifetime",
    "utilization": "low utilization",
}


def idle_checks(checks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Each idle checker of a running session as a sentence, the nearest to ending it first:
    "no client traffic: ends in 12 minutes (after 1 hour idle)"."""
    lines = []
    ordered = sorted(checks.items(), key=lambda item: float(item[1].get("remaining", 0)))
    for name, check in ordered:
        label = _IDLE_CHECKERS.get(name, name.replace("_", " "))
        remaining = float(check.get("remaining", 0))
        limit = duration(check.get("threshold", 0))
        left = f"ends in {duration(remaining)}" if remaining > 0 else "ends at the next check"
        lines.append(f"{label}: {left} (limit {limit})")
    return lines


def clock(at: datetime | None) -> str:
    """A time in the active time zone (the admin user's, see console/middleware.py)."""
    if at is None:
        return "-"
    local = timezone.localtime(at)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _short_id(value: Any) -> str:
    return str(value)[:8]


def _agent_capacity(checks: list[dict[str, Any]]) -> str | None:
    with_slot = [c for c in checks if c.get("check") == "agent-capacity" and "slot" in c]
    if with_slot:
        return "; ".join(
            f"needs {amount(c['slot'], c.get('requested'))}, the largest free on one agent "
            f"is {amount(c['slot'], c.get('available'))}"
            for c in with_slot
        )
    whole = next((c for c in checks if isinstance(c.get("requested"), dict)), None)
    if whole is None:
        return None
    return (
        f"every slot of {slots(whole['requested'])} is free somewhere, "
        "but no one agent has room for all of it at once"
    )


def _policy_limits(checks: list[dict[str, Any]]) -> str | None:
    parts = []
    for c in checks:
        kind = str(c.get("check", ""))
        if "slot" not in c or not kind.endswith(("-resource-policy", "-resource-limit")):
            continue
        who = kind.removesuffix("-resource-policy").removesuffix("-resource-limit")
        slot = c["slot"]
        parts.append(
            f"the {who} limit is {amount(slot, c.get('limit'))}, "
            f"{amount(slot, c.get('occupied'))} in use, {amount(slot, c.get('requested'))} "
            "asked"
        )
    return "; ".join(parts) or None


def _concurrency(checks: list[dict[str, Any]]) -> str | None:
    c = next((c for c in checks if c.get("check") == "keypair-concurrency"), None)
    if c is None:
        return None
    running = int(c.get("occupied", 0))
    return (
        f"its keypair already runs {running} session{'' if running == 1 else 's'}, "
        f"the policy allows {c.get('limit')} at a time"
    )


def _dependencies(checks: list[dict[str, Any]], *, failed: bool) -> str | None:
    deps = [c for c in checks if c.get("check") == "dependency"]
    if not deps:
        return None
    if failed:
        shown = ", ".join(
            f"{_short_id(c.get('depends_on'))} ({str(c.get('status', '')).lower()}"
            f"{' ' + str(c.get('result')).lower() if c.get('result') else ''})"
            for c in deps
        )
        return f"a session it depends on did not succeed: {shown}"
    ids = ", ".join(_short_id(c.get("depends_on")) for c in deps)
    return f"for {len(deps)} session{'' if len(deps) == 1 else 's'} it depends on: {ids}"


def _starts_at(checks: list[dict[str, Any]], now: datetime | None) -> str | None:
    c = next((c for c in checks if c.get("check") == "starts-at"), None)
    if c is None:
        return None
    try:
        at = datetime.fromisoformat(str(c.get("starts_at")))
    except ValueError:
        return None
    return f"until {clock(at)} ({age(at, now)})"


def _reason(code: str, checks: list[dict[str, Any]], now: datetime | None) -> str | None:
    """The why-part of a verdict from its checks, or None to fall back on its message."""
    match code:
        case "insufficient-capacity":
            text = _agent_capacity(checks)
            return f"waits: {text}" if text else None
        case "policy-limit":
            text = _policy_limits(checks)
            return f"waits: {text}" if text else None
        case "concurrency-limit":
            text = _concurrency(checks)
            return f"waits: {text}" if text else None
        case "dependency-pending":
            text = _dependencies(checks, failed=False)
            return f"waits {text}" if text else None
        case "dependency-failed":
            text = _dependencies(checks, failed=True)
            return f"cannot start: {text}" if text else None
        case "starts-at-future":
            text = _starts_at(checks, now)
            return f"waits {text}" if text else None
        case "no-agent-for-architecture":
            arch = next((c.get("architecture") for c in checks if "architecture" in c), None)
            return f"waits: no alive agent of its resource group runs {arch}" if arch else None
        case "no-alive-agents":
            return "waits: no agent of its resource group is alive and schedulable"
        case "designated-agent-unavailable":
            agents = next((c.get("agents") for c in checks if "agents" in c), None)
            if not agents:
                return None
            return (
                "waits: none of the agents it must run on "
                f"({', '.join(map(str, agents))}) is alive and schedulable"
            )
        case "pending-timeout":
            c = next((c for c in checks if c.get("check") == "pending-timeout"), None)
            if c is None:
                return None
            rest = [c for c in checks if c.get("check") != "pending-timeout"]
            before = _agent_capacity(rest) or _policy_limits(rest) or _concurrency(rest)
            text = f"cancelled after waiting more than {duration(c.get('timeout_seconds', 0))}"
            return f"{text} ({before})" if before else text
    return None


def verdict(
    data: Mapping[str, Any] | None, *, scheduler: str = "", now: datetime | None = None
) -> str:
    """The scheduler's verdict (`Session.status_data["scheduler"]`) as one sentence with the
    numbers: "waits: needs 4 CPUs, the largest free on one agent is 2 CPUs; 3rd of 5 in queue;
    FIFO". Checks the console does not know fall back on the scheduler's own message."""
    if not data:
        return "waiting for the scheduler"
    checks = [c for c in data.get("checks") or [] if isinstance(c, dict)]
    code = str(data.get("verdict") or "")
    text = _reason(code, checks, now) or str(data.get("msg") or code or "waiting")
    parts = [text]
    position, length = data.get("queue_position"), data.get("queue_length")
    if isinstance(position, int) and position > 0:
        of = f" of {length}" if isinstance(length, int) and length else ""
        parts.append(f"{ordinal(position)}{of} in queue")
    if scheduler:
        parts.append(scheduler)
    return "; ".join(parts)
