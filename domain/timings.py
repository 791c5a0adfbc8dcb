"""An order's fulfilment time, split into the paper's three phases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.clock import SimClock

_DECIMALS = 4


@dataclass(frozen=True, slots=True)
class Timings:
    order_hours: float | None
    shipping_hours: float | None
    delivery_hours: float | None

    @property
    def fulfilment_hours(self) -> float | None:
        if self.order_hours is None or self.shipping_hours is None:
            return None
        if self.delivery_hours is None:
            return None
        return round(self.order_hours + self.shipping_hours + self.delivery_hours, _DECIMALS)


def timings_between(
    placed_at: datetime,
    allocated_at: datetime | None,
    shipped_at: datetime | None,
    delivered_at: datetime | None,
    speedup: float,
) -> Timings:
    clock = SimClock(speedup)
    return Timings(
        order_hours=_sim_hours_between(clock, placed_at, allocated_at),
        shipping_hours=_sim_hours_between(clock, allocated_at, shipped_at),
        delivery_hours=_sim_hours_between(clock, shipped_at, delivered_at),
    )


def _sim_hours_between(
    clock: SimClock, start: datetime | None, end: datetime | None
) -> float | None:
    if start is None or end is None:
        return None
    return round(clock.sim_hours((end - start).total_seconds()), _DECIMALS)
