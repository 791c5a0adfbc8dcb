"""What a customer orders, where it may go, and the statuses it passes through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from domain.countries import HOME_COUNTRY, is_known_country


class OrderType(StrEnum):
    STANDARD = "standard"
    EXPEDITED = "expedited"
    INTERNATIONAL = "international"


class OrderStatus(StrEnum):
    RECEIVED = "received"
    ALLOCATED = "allocated"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    BACKORDERED = "backordered"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REJECTED = "rejected"  # could not be served at placement, e.g. out of stock


# The order's lifecycle: the statuses that may follow each. Nothing follows a final status.
NEXT_STATUSES: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.RECEIVED: frozenset(
        {
            OrderStatus.ALLOCATED,
            OrderStatus.BACKORDERED,
            OrderStatus.REJECTED,
            OrderStatus.FAILED,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.BACKORDERED: frozenset(
        {OrderStatus.ALLOCATED, OrderStatus.CANCELLED, OrderStatus.FAILED}
    ),
    OrderStatus.ALLOCATED: frozenset(
        {OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.FAILED}
    ),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.FAILED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.FAILED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}
FINAL_STATUSES = frozenset(status for status, after in NEXT_STATUSES.items() if not after)
# Until dispatch a customer may cancel an order that is not final; a new destination
# re-sources the stock an order holds, so only an allocated order may move.
MAY_CHANGE_DESTINATION = frozenset({OrderStatus.ALLOCATED})


def may_follow(current: OrderStatus, following: OrderStatus) -> bool:
    return following in NEXT_STATUSES[current]


def statuses_before(status: OrderStatus) -> frozenset[OrderStatus]:
    """The statuses `status` may directly follow."""
    return frozenset(before for before, after in NEXT_STATUSES.items() if status in after)


class Mode(StrEnum):
    CENTRALIZED = "centralized"
    DISTRIBUTED = "distributed"
    HYBRID = "hybrid"  # regional centres first, the central one as fallback


class CarrierMode(StrEnum):
    SIMULATED = "simulated"  # handling and transit are durable timers
    EVENTS = "events"  # a real carrier posts dispatched/delivered/exception events


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"order line for {self.sku} needs a positive quantity")


@dataclass(frozen=True, slots=True)
class Destination:
    country: str
    postal_code: str
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"destination ({self.lat}, {self.lon}) is not on the globe")


def destination_error(order_type: OrderType, country: str) -> str | None:
    if not is_known_country(country):
        return f"unknown country code {country!r}"
    abroad = country != HOME_COUNTRY
    if order_type is OrderType.INTERNATIONAL and not abroad:
        return f"international orders must ship outside {HOME_COUNTRY}; use standard or expedited"
    if order_type is not OrderType.INTERNATIONAL and abroad:
        return f"{order_type} orders ship within {HOME_COUNTRY}; use international for {country}"
    return None
