"""Token buckets per client key: the pure logic of the API's rate limit (api/limits.py).

Each key has a bucket of at most `burst` tokens, refilled at `rate` tokens per second; a
request takes one token or is refused with the seconds until one is back. The clock is
injected, so the arithmetic is tested without sleeping.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Buckets by key, in memory bounded by `max_keys`.

    A bucket left idle until it is full again is the same as a new one, so it is dropped;
    beyond `max_keys` busy buckets the least recently used one is dropped too (its client
    starts again from a full bucket: lenient, but memory stays bounded whatever keys come).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate > 0, burst >= 1 and max_keys >= 1 are needed")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take a token for `key`: 0.0 when granted, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.updated)  # a clock never runs back, but be safe
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket  # now the most recently used
        self._evict(now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _evict(self, now: float) -> None:
        refill_seconds = self.burst / self.rate  # idle this long: full again, as good as new
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if len(self._buckets) > self.max_keys or now - oldest.updated >= refill_seconds:
                del self._buckets[key]
            else:
                break


def retry_after_seconds(wait: float) -> int:
    """The `Retry-After` header's whole seconds: rounded up, and at least 1."""
    return max(1, math.ceil(wait))
