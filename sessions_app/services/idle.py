"""Idle checks: end running sessions that nobody uses, that outlived their policy, or that sit
below utilization thresholds.

State lives in Redis (it is short-lived and written on hot paths):
- `bai:idle:access:<session_id>`: unix time of the last access, written by `session_mark_access`
  (the app proxy, the streams) at most once per second per session and process;
- `bai:idle:cpu:<kernel_id>`: the previous cumulative CPU sample of a kernel (`t cpu_seconds`);
- `bai:idle:util:<session_id>`: a sorted set of utilization samples (score = unix time, member =
  `t:cpu_percent:mem_percent`), fed by the agents' `kernel_stats` event.

Checkers (each gives seconds left for a running session, None when it does not apply):
- `network_timeout`: the keypair policy's `idle_timeout` since the last access (or since the session
  started running when nothing marked it); interactive sessions only;
- `session_lifetime`: the policy's `max_session_lifetime` since creation;
- `utilization`: CPU and memory below the configured thresholds for the whole window, after a grace
  period from the start; interactive sessions only; off while the window is 0.

`sessions_idle_check` (beat, on `manager`) ends a session whose checker reached 0 with
`session_destroy`, the checker's reason (`idle-timeout`, `max-lifetime`, `idle-utilization`)
becoming its status_info and history reason. Running it twice is harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import transaction

from backendai_site.common.redis import get_redis
from backendai_site.config import get_config
from sessions_app.enums import SessionStatus, SessionType
from sessions_app.models import Kernel, Session

from .lifecycle import session_destroy

if TYPE_CHECKING:
    import redis

    from agents_app.schemas import KernelStats

log = logging.getLogger(__name__)

ACCESS_KEY = "bai:idle:access:{}"
CPU_KEY = "bai:idle:cpu:{}"
UTIL_KEY = "bai:idle:util:{}"
MARK_INTERVAL = 1.0
KEY_TTL = 7 * 24 * 3600

REASON_NETWORK = "idle-timeout"
REASON_LIFETIME = "max-lifetime"
REASON_UTILIZATION = "idle-utilization"

_last_mark: dict[str, float] = {}


# --- marks -----------------------------------------------------------------------------------


def session_mark_access(session_id: UUID | str, *, now: float | None = None) -> bool:
    """Record traffic of a session; at most one Redis write per second per session (per process).

    Returns True when it wrote. Never raises: a lost mark must not break the traffic it marks.
    """
    key = str(session_id)
    wall = time.time() if now is None else now
    previous = _last_mark.get(key)
    if previous is not None and wall - previous < MARK_INTERVAL:
        return False
    _last_mark[key] = wall
    if len(_last_mark) > 10_000:
        _last_mark.clear()
    try:
        get_redis().set(ACCESS_KEY.format(key), f"{wall:.3f}", ex=KEY_TTL)
    except Exception:
        log.warning("could not mark session access", extra={"session_id": key}, exc_info=True)
        return False
    return True


def session_last_access(session_id: UUID | str) -> float | None:
    raw = get_redis().get(ACCESS_KEY.format(session_id))
    return float(raw) if raw is not None else None


def _cpu_count(kernel: Kernel) -> float:
    try:
        return max(float((kernel.occupied_slots or {}).get("cpu") or 1), 0.01)
    except (TypeError, ValueError):
        return 1.0


def kernel_stats_record(event: KernelStats) -> None:
    """`kernel_stats` handler: turn cumulative CPU seconds into per-session utilization samples."""
    by_id = {stat.kernel_id: stat for stat in event.kernels}
    if not by_id:
        return
    valid: list[str] = []
    for kernel_id in by_id:
        try:
            UUID(kernel_id)
        except ValueError:
            continue
        valid.append(kernel_id)
    kernels = {
        str(k.pk): k
        for k in Kernel.objects.filter(
            pk__in=valid, session__status__in=SessionStatus.running()
        ).only("id", "session_id", "occupied_slots")
    }
    if not kernels:
        return
    at = event.at.timestamp()
    client = get_redis()
    previous = client.mget([CPU_KEY.format(kernel_id) for kernel_id in kernels])
    pipe = client.pipeline(transaction=False)
    for (kernel_id, kernel), prev in zip(kernels.items(), previous, strict=True):
        stat = by_id[kernel_id]
        if stat.cpu_used_seconds is None:
            continue
        pipe.set(CPU_KEY.format(kernel_id), f"{at} {stat.cpu_used_seconds}", ex=KEY_TTL)
        if prev is None:
            continue
        text = prev.decode() if isinstance(prev, bytes) else str(prev)
        prev_at, prev_cpu = (float(part) for part in text.split())
        if at <= prev_at:
            continue
        cpu = max(0.0, (stat.cpu_used_seconds - prev_cpu) / (at - prev_at) / _cpu_count(kernel))
        mem = 0.0
        if stat.mem_bytes is not None and stat.mem_limit_bytes:
            mem = stat.mem_bytes / stat.mem_limit_bytes
        key = UTIL_KEY.format(kernel.session_id)
        pipe.zadd(key, {f"{at:.3f}:{cpu * 100:.3f}:{mem * 100:.3f}": at})
        pipe.expire(key, KEY_TTL)
        window = get_config().idle.utilization_window
        pipe.zremrangebyscore(key, "-inf", at - max(2 * window, 600))
    pipe.execute()


# --- checkers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdleCheck:
    name: str
    reason: str
    threshold: float
    remaining: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "remaining": round(max(self.remaining, 0.0), 1),
            "reason": self.reason,
        }


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _network_check(session: Session, last_access: float | None, now: float) -> IdleCheck | None:
    timeout = session.access_key.resource_policy.idle_timeout
    if not timeout or session.session_type != SessionType.INTERACTIVE:
        return None
    since = last_access or _ts(session.status_changed) or session.created_at.timestamp()
    return IdleCheck("network_timeout", REASON_NETWORK, timeout, timeout - (now - since))


def _lifetime_check(session: Session, now: float) -> IdleCheck | None:
    lifetime = session.access_key.resource_policy.max_session_lifetime
    if not lifetime:
        return None
    elapsed = now - session.created_at.timestamp()
    return IdleCheck("session_lifetime", REASON_LIFETIME, lifetime, lifetime - elapsed)


def _utilization_check(session: Session, samples: Iterable[str], now: float) -> IdleCheck | None:
    config = get_config()
    window = config.idle.utilization_window
    if not window or session.session_type != SessionType.INTERACTIVE:
        return None
    started = _ts(session.status_changed) or session.created_at.timestamp()
    busy_until = started + config.idle.utilization_grace
    for sample in samples:
        at, cpu, mem = (float(part) for part in sample.split(":"))
        if cpu >= config.idle.utilization_cpu_percent or mem >= config.idle.utilization_mem_percent:
            busy_until = max(busy_until, at)
    return IdleCheck("utilization", REASON_UTILIZATION, window, window - (now - busy_until))


def _redis_state(
    client: redis.Redis, session_ids: list[str], now: float
) -> tuple[dict[str, float | None], dict[str, list[str]]]:
    window = get_config().idle.utilization_window
    pipe = client.pipeline(transaction=False)
    for session_id in session_ids:
        pipe.get(ACCESS_KEY.format(session_id))
        pipe.zrangebyscore(UTIL_KEY.format(session_id), now - window - 1, "+inf")
    replies = pipe.execute() if session_ids else []
    access: dict[str, float | None] = {}
    util: dict[str, list[str]] = {}
    for index, session_id in enumerate(session_ids):
        raw_access, raw_util = replies[2 * index], replies[2 * index + 1]
        access[session_id] = float(raw_access) if raw_access is not None else None
        util[session_id] = [
            item.decode() if isinstance(item, bytes) else str(item) for item in raw_util
        ]
    return access, util


def _checks_of(
    session: Session, last_access: float | None, samples: list[str], now: float
) -> list[IdleCheck]:
    found = [
        _network_check(session, last_access, now),
        _lifetime_check(session, now),
        _utilization_check(session, samples, now),
    ]
    return [check for check in found if check is not None]


def session_idle_checks(session: Session, *, now: float | None = None) -> dict[str, Any]:
    """Seconds left under each checker of a running session (`{}` when not running)."""
    if session.status not in SessionStatus.running():
        return {}
    wall = time.time() if now is None else now
    key = str(session.pk)
    access, util = _redis_state(get_redis(), [key], wall)
    checks = _checks_of(session, access[key], util[key], wall)
    return {check.name: check.as_dict() for check in checks}


def sessions_idle_check(*, now: float | None = None) -> list[tuple[UUID, str]]:
    """End every running session whose checker ran out; returns (session id, reason) pairs."""
    wall = time.time() if now is None else now
    sessions = list(
        Session.objects.filter(status__in=SessionStatus.running()).select_related(
            "access_key__resource_policy"
        )
    )
    if not sessions:
        return []
    access, util = _redis_state(get_redis(), [str(s.pk) for s in sessions], wall)
    ended: list[tuple[UUID, str]] = []
    for session in sessions:
        key = str(session.pk)
        expired = [c for c in _checks_of(session, access[key], util[key], wall) if c.remaining <= 0]
        if not expired:
            continue
        reason = expired[0].reason
        _session_end(session, reason=reason, details={c.name: c.as_dict() for c in expired})
        ended.append((session.pk, reason))
    return ended


def _session_end(session: Session, *, reason: str, details: Mapping[str, Any]) -> None:
    with transaction.atomic():
        current = Session.objects.select_for_update().filter(pk=session.pk).first()
        if current is None or current.status not in SessionStatus.running():
            return
        log.info(
            "idle check ends session",
            extra={"session_id": str(session.pk), "reason": reason, "checks": dict(details)},
        )
        session_destroy(session=current, reason=reason)
