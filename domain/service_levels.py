"""How long each order type takes to handle and carry, in simulated hours."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from domain.orders import OrderType


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    order_type: OrderType
    handling_hours: float
    fixed_transit_hours: float
    speed_kmh: float
    customs_hours: float
    promise_margin_hours: float


# Our model's assumptions, not the paper's numbers: standard goes by ground truck,
# expedited by express courier, international by air and waits in customs.
SERVICE_LEVELS: Mapping[OrderType, ServiceLevel] = MappingProxyType(
    {
        OrderType.STANDARD: ServiceLevel(OrderType.STANDARD, 1.0, 1.0, 80.0, 0.0, 2.0),
        OrderType.EXPEDITED: ServiceLevel(OrderType.EXPEDITED, 0.5, 0.5, 160.0, 0.0, 1.0),
        OrderType.INTERNATIONAL: ServiceLevel(OrderType.INTERNATIONAL, 1.5, 2.0, 600.0, 4.0, 6.0),
    }
)


def handling_hours(order_type: OrderType) -> float:
    return SERVICE_LEVELS[order_type].handling_hours


def transit_hours(order_type: OrderType, distance_km: float) -> float:
    if distance_km < 0:
        raise ValueError(f"distance cannot be negative, got {distance_km} km")
    level = SERVICE_LEVELS[order_type]
    return level.fixed_transit_hours + distance_km / level.speed_kmh + level.customs_hours


def promised_hours(order_type: OrderType, distance_km: float) -> float:
    level = SERVICE_LEVELS[order_type]
    expected = level.handling_hours + transit_hours(order_type, distance_km)
    return float(math.ceil(expected + level.promise_margin_hours))
