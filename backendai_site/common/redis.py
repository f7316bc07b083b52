"""The shared Redis connection for short-lived state (rate limits, marks, hints)."""

from __future__ import annotations

from functools import lru_cache

import redis

from backendai_site.config import get_config


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(get_config().redis_url, socket_timeout=5, health_check_interval=30)
