"""An order's fulfilment time, split into the paper's three phases, in simulated hours.

Temporal timers fire on whole seconds, so wall-clock spans of a compressed run carry up
to a second of timer lag each, which at a speedup of 1,200 is a third of a simulated
hour. So the modelled parts of a phase (FC handling, carrier transit) count at their
model value, and only what the system really spent (sourcing, waiting for an FC worker)
is measured and scaled by the speedup.
"""

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


def reported(hours: float) -> float:
    """Hours at the precision every timing is stored and reported in."""
    return round(hours, _DECIMALS)


def order_hours(placed_at: datetime, allocated_at: datetime, speedup: float) -> float:
    """T_order: placement to allocation, as measured."""
    return _scaled(placed_at, allocated_at, speedup)


def shipping_hours(
    handling_hours: float, ready_at: datetime, dispatched_at: datetime, speedup: float
) -> float:
    """T_shipping: the FC's modelled handling plus the measured wait for its worker."""
    return reported(handling_hours + _scaled(ready_at, dispatched_at, speedup))


def _scaled(start: datetime, end: datetime, speedup: float) -> float:
    elapsed = max(0.0, (end - start).total_seconds())
    return reported(SimClock(speedup).sim_hours(elapsed))
