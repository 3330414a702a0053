"""Per-client rate limits: a token bucket per (issuer, tenant), answered with 429 and ``Retry-After``.

With ``CDS_REDIS_URL`` the buckets live in Redis (one Lua script, atomic), so the limit holds for all
workers together. Without it each process keeps its own buckets: with N workers a client may get up
to N times the configured rate. A rate limiter that cannot reach Redis lets the call through (and
logs it): unlike the replay store, a missed rate limit costs capacity, not security.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

log = logging.getLogger("cds_server.security")


@dataclass(frozen=True)
class Limit:
    per_s: float
    burst: int


class RateLimiter(Protocol):
    def acquire(self, key: str, limit: Limit) -> float:
        """Take one token from ``key``'s bucket.

        :return: ``0.0`` when allowed, else the seconds until a token is available.
        """
        ...

    def close(self) -> None: ...


class LocalRateLimiter:
    """Token buckets in this process (the embedded default)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def acquire(self, key: str, limit: Limit) -> float:
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - stamp) * limit.per_s)
            if tokens >= 1.0:
                if len(self._buckets) >= self._max_keys and key not in self._buckets:
                    self._buckets.clear()  # keys are registered clients: this only bounds memory
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / limit.per_s

    def close(self) -> None:
        """Nothing to release."""


# KEYS[1] bucket; ARGV: rate per second, burst, now (s). Returns the wait in milliseconds (0: allowed).
_BUCKET_SCRIPT = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return wait
"""


class RedisRateLimiter:
    def __init__(self, client: redis.Redis, *, prefix: str = "cds:rate:") -> None:
        self._redis = client
        self._prefix = prefix
        self._script = client.register_script(_BUCKET_SCRIPT)

    def acquire(self, key: str, limit: Limit) -> float:
        try:
            wait_ms = self._script(keys=[self._prefix + key], args=[limit.per_s, limit.burst, time.time()])
        except redis.RedisError:
            log.warning("rate limiter (redis) unavailable; call let through")
            return 0.0
        return float(wait_ms) / 1000.0

    def close(self) -> None:
        """The Redis client is shared with the replay store, which closes it."""


def retry_after_s(wait: float) -> int:
    """Whole seconds for the ``Retry-After`` header, at least 1."""
    return max(1, math.ceil(wait))
