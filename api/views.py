"""Turn the store's read model and the workflow's placement into response bodies."""

from __future__ import annotations

from activities.messages import Allocation, OrderRequest, Placement
from api.schemas import (
    AllocationPublic,
    DestinationPublic,
    LinePublic,
    OrderPublic,
    TimingsPublic,
)
from domain.orders import Destination, Mode, OrderLine, OrderStatus, OrderType
from domain.timings import Timings
from store.queries import OrderView


def order_from_view(view: OrderView) -> OrderPublic:
    return OrderPublic(
        order_id=view.order_id,
        customer_id=view.customer_id,
        order_type=OrderType(view.order_type),
        mode=Mode(view.mode),
        status=OrderStatus(view.status),
        destination=_destination(view.destination),
        allocations=[
            _allocation(view.order_id, fc, lines) for fc, lines in view.allocations.items()
        ],
        placed_at=view.placed_at,
        promised_hours=view.promised_hours,
        promised_delivery_at=view.promised_delivery_at,
        failure_reason=view.failure_reason,
        timings=_timings(view.timings),
        sourcing=view.sourcing,
        trace_id=view.trace_id,
    )


def order_from_placement(
    request: OrderRequest, placement: Placement, trace_id: str | None = None
) -> OrderPublic:
    return OrderPublic(
        order_id=request.order_id,
        customer_id=request.customer_id,
        order_type=request.order_type,
        mode=request.mode,
        status=placement.status,
        destination=_destination(request.destination),
        allocations=[
            _allocation(request.order_id, a.fulfilment_centre, a.lines)
            for a in placement.allocations
        ],
        placed_at=placement.placed_at,
        promised_hours=placement.promised_hours,
        promised_delivery_at=placement.promised_delivery_at,
        failure_reason=placement.reason,
        timings=_timings(Timings(placement.order_hours, None, None)),
        sourcing=placement.sourcing,
        trace_id=trace_id,
    )


def _destination(destination: Destination) -> DestinationPublic:
    return DestinationPublic(
        country=destination.country,
        postal_code=destination.postal_code,
        lat=destination.lat,
        lon=destination.lon,
    )


def _allocation(order_id: str, fc_id: str, lines: list[OrderLine]) -> AllocationPublic:
    return AllocationPublic(
        fulfilment_centre=fc_id,
        shipment_id=Allocation(fc_id, lines, 0.0).shipment_id(order_id),
        lines=[LinePublic(sku=line.sku, quantity=line.quantity) for line in lines],
    )


def _timings(timings: Timings) -> TimingsPublic:
    return TimingsPublic(
        order_hours=timings.order_hours,
        shipping_hours=timings.shipping_hours,
        delivery_hours=timings.delivery_hours,
        fulfilment_hours=timings.fulfilment_hours,
    )
