"""When a shopper looks at its orders again to answer their surveys. Pure: no Locust, no HTTP.

A shopper remembers each order it placed (up to `capacity`; beyond that it forgets new
ones, so memory stays bounded) and first looks at it when the order was promised. The
promise is the server's own span, promised_delivery_at - placed_at, so the two clocks
need not agree. An order not yet delivered by then is looked at again after a quarter
of that span, then half, then a whole span, doubling up to `max_checks` looks: late
orders are surveyed too (leaving them out would flatter the satisfaction figures),
and an order that never arrives costs a bounded number of requests.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime

DEFAULT_CAPACITY = 200
DEFAULT_MAX_CHECKS = 8
FIRST_RETRY_FRACTION = 0.25  # of the promised span, doubling with each further look
MIN_DELAY_SECONDS = 0.5  # never look at one order more often than this
NO_PROMISE_SECONDS = 5.0  # first look at an order placed without a promise (backordered)


@dataclass(frozen=True, slots=True)
class Pending:
    """An order a shopper will look at again at `due_at` (seconds on its monotonic clock)."""

    due_at: float
    order_id: str
    span_seconds: float
    checks: int = 0  # looks already taken


def promise_span_seconds(placed_at: str | None, promised_at: str | None) -> float | None:
    """Real seconds from placement to the promised delivery, from the order's ISO times."""
    if not placed_at or not promised_at:
        return None
    span = (datetime.fromisoformat(promised_at) - datetime.fromisoformat(placed_at)).total_seconds()
    return max(0.0, span)


class SurveyQueue:
    """The orders one shopper is waiting to see delivered, earliest look first."""

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, max_checks: int = DEFAULT_MAX_CHECKS
    ) -> None:
        if capacity < 1 or max_checks < 1:
            raise ValueError("capacity and max_checks must be at least 1")
        self.capacity = capacity
        self.max_checks = max_checks
        self._heap: list[tuple[float, int, Pending]] = []
        self._tiebreak = itertools.count()  # equal due times come out in insertion order

    def __len__(self) -> int:
        return len(self._heap)

    def track(self, order_id: str, now: float, span_seconds: float | None) -> bool:
        """Remember an order placed at `now`; False (forgotten) when the memory is full."""
        if len(self._heap) >= self.capacity:
            return False
        span = NO_PROMISE_SECONDS if span_seconds is None else span_seconds
        self._push(Pending(now + max(MIN_DELAY_SECONDS, span), order_id, span))
        return True

    def next_due(self) -> float | None:
        """When the earliest look is due, or None when no order is pending."""
        return self._heap[0][0] if self._heap else None

    def due(self, now: float, limit: int) -> list[Pending]:
        """Up to `limit` orders whose look is due, taken out of the queue."""
        taken: list[Pending] = []
        while self._heap and len(taken) < limit and self._heap[0][0] <= now:
            taken.append(heapq.heappop(self._heap)[2])
        return taken

    def retry(self, pending: Pending, now: float) -> bool:
        """Look again later at an order not yet delivered; False when out of looks."""
        checks = pending.checks + 1
        if checks >= self.max_checks:
            return False
        span = pending.span_seconds if pending.span_seconds > 0 else NO_PROMISE_SECONDS
        delay = max(MIN_DELAY_SECONDS, span * FIRST_RETRY_FRACTION * 2 ** (checks - 1))
        self._push(Pending(now + delay, pending.order_id, pending.span_seconds, checks))
        return True

    def _push(self, pending: Pending) -> None:
        heapq.heappush(self._heap, (pending.due_at, next(self._tiebreak), pending))
