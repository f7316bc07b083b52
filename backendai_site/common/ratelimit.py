"""Rolling-window counters in Redis (one round trip per hit)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import redis

from backendai_site.common.errors import ServiceUnavailable
from backendai_site.common.redis import get_redis

# Drop hits older than the window, add this one, and count what is left, atomically.
_ROLLING_COUNT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return redis.call('ZCARD', key)
"""


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit: int
    used: int
    window_seconds: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit


def rolling_hit(*, key: str, limit: int, window_seconds: int) -> RateLimitState:
    """Count one hit on `key` in the last `window_seconds`."""
    client = get_redis()
    try:
        used = int(
            client.eval(
                _ROLLING_COUNT, 1, key, f"{time.time():.6f}", str(window_seconds), uuid.uuid4().hex
            )
        )
    except redis.RedisError as exc:
        raise ServiceUnavailable("rate-limit store (Redis) is unavailable") from exc
    return RateLimitState(limit=limit, used=used, window_seconds=window_seconds)


def rolling_count(*, key: str, window_seconds: int) -> int:
    client = get_redis()
    try:
        now = time.time()
        client.zremrangebyscore(key, "-inf", now - window_seconds)
        return int(client.zcard(key))
    except redis.RedisError as exc:
        raise ServiceUnavailable("rate-limit store (Redis) is unavailable") from exc


def rolling_reset(*, key: str) -> None:
    get_redis().delete(key)
