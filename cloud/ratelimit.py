"""An in-memory token-bucket limiter keyed by string (per email+IP for login, per IP for enrolment).

Pure: time comes from an injected monotonic clock, so tests step it by hand. Each key holds a
bucket of ``burst`` tokens refilled at ``per_s``; an attempt takes one token or is refused with
the seconds until one is back. To count only failures (so a farm enrolling 100 printers from one
address is never slowed down), ``peek`` before the attempt and ``take`` after a failure.
Memory is bounded: past ``max_keys`` the least recently touched key is evicted (it simply starts
again with a full bucket).

It lives in one process: with several cloud replicas each has its own buckets (a shared store,
e.g. PostgreSQL or Redis, is the upgrade path when that matters).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

DEFAULT_MAX_KEYS: Final = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float


class TokenBucketLimiter:
    """``take(key)`` → ``None`` when allowed, else seconds to wait before the next attempt."""

    def __init__(
        self,
        burst: int,
        per_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if burst < 1 or per_s <= 0 or max_keys < 1:
            raise ValueError("burst and max_keys must be ≥ 1 and per_s > 0")
        self.burst = burst
        self.per_s = per_s
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            return _Bucket(tokens=float(self.burst), updated_s=now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated_s) * self.per_s)
        bucket.updated_s = now
        return bucket

    def take(self, key: str) -> float | None:
        """Take one token for ``key``: ``None`` if there was one, else the wait in seconds (> 0)."""
        now = self._clock()
        bucket = self._refilled(key, now)
        if bucket.tokens < 1.0:
            self._buckets[key] = bucket
            self._buckets.move_to_end(key)
            return (1.0 - bucket.tokens) / self.per_s
        bucket.tokens -= 1.0
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        self._evict()
        return None

    def peek(self, key: str) -> float | None:
        """Like ``take`` but without taking: ``None`` when an attempt would pass now."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        tokens = min(float(self.burst), bucket.tokens + (self._clock() - bucket.updated_s) * self.per_s)
        return None if tokens >= 1.0 else (1.0 - tokens) / self.per_s

    def reset(self, key: str) -> None:
        """Forget ``key`` (a full bucket again), e.g. after a successful login."""
        self._buckets.pop(key, None)

    def _evict(self) -> None:
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        """Keys currently tracked (for tests and metrics)."""
        return len(self._buckets)
