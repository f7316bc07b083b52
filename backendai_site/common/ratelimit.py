"""Rolling-window counters in Redis (one round trip per hit, scripts sent by SHA)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import redis
from redis.commands.core import Script

from backendai_site.common.errors import ServiceUnavailable
from backendai_site.common.redis import get_redis

# Seconds until a key holding `used` hits has room for one more within `limit` (0 when it has):
# the (used - limit + 1)-th oldest hit has to leave the window first.
_RETRY_AFTER = """
local function retry_after(key, used, limit, now, window)
  if used < limit then return 0 end
  local hit = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
  if hit[2] == nil then return 0 end
  return math.max(1, math.ceil(tonumber(hit[2]) + window - now))
end
"""

# Drop hits older than the window, add this one, and count what is left, atomically.
_ROLLING_COUNT = (
    _RETRY_AFTER
    + """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, math.ceil(window * 1000))
local used = redis.call('ZCARD', key)
return {used, retry_after(key, used, tonumber(ARGV[4]), now, window)}
"""
)

# Drop hits older than the window and count what is left (adding nothing).
_ROLLING_PEEK = (
    _RETRY_AFTER
    + """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
return {used, retry_after(key, used, tonumber(ARGV[3]), now, window)}
"""
)

# The same count, and when the hit is within the limit also `SET mark 1 NX EX ttl`: one round
# trip answers both "how many hits" and "is this the first use since the mark expired".
_ROLLING_COUNT_AND_MARK = (
    _RETRY_AFTER
    + """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, math.ceil(window * 1000))
local used = redis.call('ZCARD', key)
local limit = tonumber(ARGV[4])
local marked = 0
if used <= limit then
  if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[5])) then
    marked = 1
  end
end
return {used, marked, retry_after(key, used, limit, now, window)}
"""
)


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit: int
    used: int
    window_seconds: int
    # seconds until there is room for one more hit within the limit (0 while there is)
    retry_after: int = 0

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit


def _script(source: str) -> Script:
    # Registered per client (get_redis() is cached): EVALSHA, falling back to EVAL once after
    # a Redis restart flushed its script cache.
    client = get_redis()
    cached = _scripts.get((id(client), source))
    if cached is None:
        cached = _scripts[(id(client), source)] = client.register_script(source)
    return cached


_scripts: dict[tuple[int, str], Script] = {}


def rolling_hit(*, key: str, limit: int, window_seconds: int) -> RateLimitState:
    """Count one hit on `key` in the last `window_seconds`."""
    try:
        used, retry_after = _script(_ROLLING_COUNT)(
            keys=[key],
            args=[f"{time.time():.6f}", str(window_seconds), uuid.uuid4().hex, str(limit)],
        )
    except redis.RedisError as exc:
        raise ServiceUnavailable("rate-limit store (Redis) is unavailable") from exc
    return RateLimitState(
        limit=limit, used=int(used), window_seconds=window_seconds, retry_after=int(retry_after)
    )


def rolling_hit_and_mark(
    *, key: str, limit: int, window_seconds: int, mark_key: str, mark_seconds: int
) -> tuple[RateLimitState, bool]:
    """`rolling_hit`, and when the hit is within `limit` also set `mark_key` (NX, expiring after
    `mark_seconds`), in one round trip. The flag is True when this hit set the mark."""
    try:
        used, marked, retry_after = _script(_ROLLING_COUNT_AND_MARK)(
            keys=[key, mark_key],
            args=[
                f"{time.time():.6f}",
                str(window_seconds),
                uuid.uuid4().hex,
                str(limit),
                str(mark_seconds),
            ],
        )
    except redis.RedisError as exc:
        raise ServiceUnavailable("rate-limit store (Redis) is unavailable") from exc
    state = RateLimitState(
        limit=limit, used=int(used), window_seconds=window_seconds, retry_after=int(retry_after)
    )
    return state, bool(int(marked))


def rolling_peek(*, key: str, limit: int, window_seconds: int) -> RateLimitState:
    """The hits on `key` in the last `window_seconds`, without adding one; `retry_after` says
    when there will be room for one more within `limit`."""
    try:
        used, retry_after = _script(_ROLLING_PEEK)(
            keys=[key], args=[f"{time.time():.6f}", str(window_seconds), str(limit)]
        )
    except redis.RedisError as exc:
        raise ServiceUnavailable("rate-limit store (Redis) is unavailable") from exc
    return RateLimitState(
        limit=limit, used=int(used), window_seconds=window_seconds, retry_after=int(retry_after)
    )


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
