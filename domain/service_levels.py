"""How long carriers take for each order type, and the promise made to the customer.

Handling is not here: it belongs to the fulfilment centre and grows with its backlog
(domain/capacity.py). All durations are simulated hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from domain.checks import Rule, non_negative, positive
from domain.orders import OrderType

# Per-field rules, shared with the network-file parser.
SERVICE_LEVEL_RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "fixed_transit_hours": non_negative,
        "speed_kmh": positive,
        "customs_hours": non_negative,
        "promise_margin_hours": non_negative,
    }
)


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    order_type: OrderType
    fixed_transit_hours: float  # collection and last-mile legs, whatever the distance
    speed_kmh: float
    customs_hours: float
    promise_margin_hours: float  # slack added to the expected time before it is promised

    def __post_init__(self) -> None:
        problems = [
            f"{name}: {problem}"
            for name, rule in SERVICE_LEVEL_RULES.items()
            if (problem := rule(getattr(self, name)))
        ]
        if problems:
            raise ValueError(f"service level {self.order_type}: {'; '.join(problems)}")


# Our model's assumptions, not the paper's numbers: standard goes by ground truck,
# expedited by express courier, international by air and waits in customs.
DEFAULT_SERVICE_LEVELS: Mapping[OrderType, ServiceLevel] = MappingProxyType(
    {
        OrderType.STANDARD: ServiceLevel(OrderType.STANDARD, 1.0, 80.0, 0.0, 2.0),
        OrderType.EXPEDITED: ServiceLevel(OrderType.EXPEDITED, 0.5, 160.0, 0.0, 1.0),
        OrderType.INTERNATIONAL: ServiceLevel(OrderType.INTERNATIONAL, 2.0, 600.0, 4.0, 6.0),
    }
)


def transit_hours(level: ServiceLevel, distance_km: float) -> float:
    if distance_km < 0:
        raise ValueError(f"distance cannot be negative, got {distance_km} km")
    return level.fixed_transit_hours + distance_km / level.speed_kmh + level.customs_hours


def promised_hours(handling_hours: float, transit_hours: float, level: ServiceLevel) -> float:
    """Expected hours to delivery plus the level's margin, rounded up to a whole hour."""
    return float(math.ceil(handling_hours + transit_hours + level.promise_margin_hours))
