"""The load test's arithmetic, without Locust: arrival rate per level, users, thresholds.

Pure Python, so it can be unit-tested and used by the experiment runner without
importing Locust (which patches the standard library with gevent on import).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# The paper's load levels, in orders per second (Table 4.1).
PAPER_RATES: Mapping[str, float] = MappingProxyType({"low": 200.0, "medium": 500.0, "high": 1000.0})
# One laptop cannot generate (or serve) 1,000 orders/s through HTTP and Temporal: by
# default every level runs at 1% of the paper's rate, 2 / 5 / 10 orders/s. The ratio
# between levels is kept; say which scale a report ran at.
DEFAULT_SCALE = 0.01
# Each simulated shopper places at most this many orders per second; more arrivals mean
# more shoppers, so a slow response delays one shopper, not the whole arrival stream.
DEFAULT_ORDERS_PER_USER_PER_SECOND = 1.0
DEFAULT_MAX_ERROR_RATIO = 0.01


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """A constant arrival rate of `orders_per_second`, spread evenly over `users`
    shoppers each placing `orders_per_user_per_second` (Locust's constant_throughput)."""

    level: str
    paper_orders_per_second: float
    scale: float
    orders_per_second: float
    users: int
    orders_per_user_per_second: float


def plan_load(
    level: str,
    scale: float = DEFAULT_SCALE,
    max_orders_per_user_per_second: float = DEFAULT_ORDERS_PER_USER_PER_SECOND,
) -> LoadPlan:
    """The users and per-user rate that place the level's orders/s times `scale`."""
    if level not in PAPER_RATES:
        raise ValueError(f"unknown load level {level!r}; choose one of {sorted(PAPER_RATES)}")
    if not scale > 0:
        raise ValueError(f"the scale must be positive, got {scale}")
    if not max_orders_per_user_per_second > 0:
        raise ValueError("a shopper must place a positive number of orders per second")
    paper = PAPER_RATES[level]
    rate = paper * scale
    users = max(1, math.ceil(rate / max_orders_per_user_per_second - 1e-9))
    return LoadPlan(level, paper, scale, rate, users, rate / users)


def shape_tick(plan: LoadPlan, elapsed: float, run_time: float | None) -> tuple[int, float] | None:
    """Locust's LoadTestShape.tick: all the plan's users at once, until `run_time` seconds
    have passed (None: until stopped by hand). The shape must stop the run itself: in
    headless mode Locust waits for a shape to finish before it would arm -t's timer."""
    if run_time is not None and elapsed >= run_time:
        return None
    return plan.users, float(plan.users)


def threshold_breaches(
    error_ratio: float,
    p95_ms: float | None,
    max_error_ratio: float | None,
    max_p95_ms: float | None,
) -> list[str]:
    """Why a run fails its thresholds, one message per breach; empty when it passes.
    A threshold of None is not checked; a p95 of None (no requests) breaches no limit."""
    breaches: list[str] = []
    if max_error_ratio is not None and error_ratio > max_error_ratio:
        breaches.append(f"error ratio {error_ratio:.4f} exceeds {max_error_ratio:.4f}")
    if max_p95_ms is not None and p95_ms is not None and p95_ms > max_p95_ms:
        breaches.append(f"p95 response time {p95_ms:.1f} ms exceeds {max_p95_ms:g} ms")
    return breaches


def optional_float(text: str | None) -> float | None:
    """An environment setting that may be unset or empty (no limit)."""
    if text is None or not text.strip():
        return None
    return float(text)


def enabled(text: str | None, default: bool = True) -> bool:
    """A boolean environment setting: 1/true/yes/on or 0/false/no/off."""
    if text is None or not text.strip():
        return default
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean (1/0, true/false, yes/no, on/off), got {text!r}")
