"""Inputs and results exchanged between the API, the order workflow and its activities.

One dataclass per call, so fields can be added without breaking running histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from domain.orders import CarrierMode, Destination, Mode, OrderLine, OrderStatus, OrderType
from domain.sourcing import Shortage


@dataclass(frozen=True)
class OrderRequest:
    """A validated order as the API accepted it; the order workflow's input."""

    order_id: str
    customer_id: str
    order_type: OrderType
    destination: Destination
    lines: list[OrderLine]
    mode: Mode
    speedup: float
    backorder_hours: float | None = None  # wait this long for stock instead of rejecting
    carrier: CarrierMode = CarrierMode.SIMULATED
    # Off for benchmarks: no handling or transit timers; the modelled hours are still reported.
    simulated_delays: bool = True
    # Set when the API sourced and reserved the order itself (the outbox intake).
    placed_at: datetime | None = None
    # What the API decided for the order (the outbox intake): the workflow carries on from
    # there. None in histories recorded before it was passed: the workflow reads it back.
    placement: Placement | None = None


@cache
def _order_requests() -> TypeAdapter[OrderRequest]:
    return TypeAdapter(OrderRequest)


def request_to_json(request: OrderRequest) -> dict[str, Any]:
    """The request as JSON-ready data, for the workflow outbox."""
    data: dict[str, Any] = _order_requests().dump_python(request, mode="json")
    return data


def request_from_json(data: dict[str, Any]) -> OrderRequest:
    return _order_requests().validate_python(data)


@dataclass(frozen=True)
class AllocateInput:
    request: OrderRequest
    placed_at: datetime
    decided_at: datetime


@dataclass(frozen=True)
class ReallocateInput:
    request: OrderRequest
    destination: Destination
    decided_at: datetime


@dataclass(frozen=True)
class Allocation:
    """One parcel: the lines one FC ships, and the model's hours for it."""

    fulfilment_centre: str
    lines: list[OrderLine]
    distance_km: float
    handling_hours: float = 0.0
    transit_hours: float = 0.0

    def shipment_id(self, order_id: str) -> str:
        return f"{order_id}-{self.fulfilment_centre}"


@dataclass(frozen=True)
class Placement:
    """The sourcing decision: what `POST /orders` answers with."""

    order_id: str
    status: OrderStatus
    placed_at: datetime
    allocations: list[Allocation] = field(default_factory=list)
    allocated_at: datetime | None = None
    order_hours: float | None = None
    promised_hours: float | None = None
    promised_delivery_at: datetime | None = None
    reason: str | None = None
    shortages: list[Shortage] = field(default_factory=list)
    unknown_skus: list[str] = field(default_factory=list)
    sourcing: dict[str, Any] | None = None
    backorder_until: datetime | None = None


@dataclass(frozen=True)
class ReleaseInput:
    """Compensation: give back every unit not yet shipped, and end the order."""

    order_id: str
    status: OrderStatus
    reason: str
    at: datetime
    # For the metrics' labels; None in histories recorded before they were added.
    order_type: OrderType | None = None
    mode: Mode | None = None


@dataclass(frozen=True)
class ShipInput:
    order_id: str
    fulfilment_centre: str
    handling_hours: float
    ready_at: datetime  # when handling ended and the FC's worker was asked to ship
    speedup: float
    order_type: OrderType | None = None  # for the metrics' labels, as in ReleaseInput
    mode: Mode | None = None


@dataclass(frozen=True)
class Dispatch:
    shipment_id: str
    dispatched_at: datetime
    shipping_hours: float


@dataclass(frozen=True)
class DeliveryInput:
    order_id: str
    delivered_at: datetime
    delivery_hours: float


class CarrierEventKind(StrEnum):
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    EXCEPTION = "exception"


@dataclass(frozen=True)
class CarrierEvent:
    shipment_id: str
    kind: CarrierEventKind
    at: datetime
    detail: str | None = None


@dataclass(frozen=True)
class CancelRequest:
    reason: str = "cancelled by the customer"


@dataclass(frozen=True)
class OrderEnded:
    """How the app database says an order ended: what `release` answers, so that a workflow
    whose own record of an earlier end was lost (an update lost with a server restart,
    after its step had committed) ends as the database says rather than contradicting it."""

    status: OrderStatus
    reason: str | None = None


@dataclass(frozen=True)
class OrderOutcome:
    order_id: str
    status: OrderStatus
    reason: str | None = None
