"""What a customer orders, and where it may go."""

from __future__ import annotations

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


FINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.FAILED, OrderStatus.REJECTED}
)


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
