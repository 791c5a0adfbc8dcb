"""The sourcing decision for an order, read from the stock it sees, and the placements it
leads to: what POST /orders answers and the order workflow carries on from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from activities.messages import Allocation, OrderRequest, Placement
from domain.clock import SimClock
from domain.network_spec import NetworkSpec
from domain.orders import Destination, OrderLine, OrderStatus
from domain.sourcing import SourcingDecision, source, unknown_skus
from domain.timings import order_hours
from observability.trace_context import current_trace_id
from store import inventory
from store.orders import NewOrder, ParcelReservation, Promise, RecordedAllocation


class Decision:
    """The domain's sourcing decision plus the SKUs the catalogue does not know."""

    def __init__(self, decision: SourcingDecision, unknown: list[str]) -> None:
        self.decision, self.unknown_skus = decision, unknown

    @property
    def served(self) -> bool:
        return self.decision.served and not self.unknown_skus

    @property
    def reason(self) -> str:
        return self.decision.reason

    def as_dict(self) -> dict[str, object]:
        return self.decision.as_dict()


async def decide(
    session: AsyncSession,
    spec: NetworkSpec,
    centres: Sequence[str],
    order: NewOrder,
    destination: Destination,
    own_reserved: dict[str, list[OrderLine]] | None = None,
) -> Decision:
    """Read stock and backlog, then let the domain's sourcing policy choose."""
    skus = {line.sku for line in order.lines}
    known = await inventory.known_skus(session, skus)
    stock = await inventory.stock_levels(session, skus, centres)
    backlog = await inventory.backlog_by_centre(session, centres)
    for fc_id, lines in (own_reserved or {}).items():
        for line in lines:  # the order's own units count as available to itself
            stock[(fc_id, line.sku)] = stock.get((fc_id, line.sku), 0) + line.quantity
    missing = unknown_skus(order.lines, known)
    decision = source(spec, order.mode, order.order_type, destination, order.lines, stock, backlog)
    return Decision(decision, missing)


def new_order(request: OrderRequest, placed_at: datetime) -> NewOrder:
    return NewOrder(
        order_id=request.order_id,
        customer_id=request.customer_id,
        order_type=request.order_type,
        mode=request.mode,
        destination=request.destination,
        lines=tuple(request.lines),
        speedup=request.speedup,
        placed_at=placed_at,
        trace_id=current_trace_id(),  # the request's, or the workflow's that carries it on
    )


def parcels_of(decision: Decision) -> list[ParcelReservation]:
    return [ParcelReservation(p.centre_id, p.lines) for p in decision.decision.parcels]


def promise_for(order: NewOrder, decision: Decision, at: datetime) -> Promise:
    hours = decision.decision.promised_hours
    assert hours is not None, "a served decision carries a promise"
    return Promise(hours, at + timedelta(seconds=SimClock(order.speedup).real_seconds(hours)))


def allocated(order: NewOrder, decision: Decision, promise: Promise, at: datetime) -> Placement:
    return Placement(
        order.order_id,
        OrderStatus.ALLOCATED,
        order.placed_at,
        _allocations(decision),
        allocated_at=at,
        order_hours=order_hours(order.placed_at, at, order.speedup),
        promised_hours=promise.hours,
        promised_delivery_at=promise.delivery_at,
        sourcing=decision.as_dict(),
    )


def backordered(order: NewOrder, decision: Decision, until: datetime) -> Placement:
    return Placement(
        order.order_id,
        OrderStatus.BACKORDERED,
        order.placed_at,
        reason=decision.reason,
        shortages=list(decision.decision.shortages),
        sourcing=decision.as_dict(),
        backorder_until=until,
    )


def rejected(order: NewOrder, reason: str, decision: Decision | None) -> Placement:
    return Placement(
        order.order_id,
        OrderStatus.REJECTED,
        order.placed_at,
        reason=reason,
        shortages=list(decision.decision.shortages) if decision else [],
        unknown_skus=list(decision.unknown_skus) if decision else [],
        sourcing=decision.as_dict() if decision else None,
    )


def recorded_placement(
    order_id: str, placed_at: datetime, recorded: RecordedAllocation
) -> Placement:
    """What an earlier attempt recorded, for an activity that runs again after committing."""
    parcels = (recorded.sourcing or {}).get("parcels", [])
    allocations = [
        Allocation(
            p["fulfilment_centre"],
            [OrderLine(line["sku"], line["quantity"]) for line in p["lines"]],
            p["distance_km"],
            p["handling_hours"],
            p["transit_hours"],
        )
        for p in parcels
    ]
    promise = recorded.promise
    return Placement(
        order_id,
        recorded.status,
        placed_at,
        allocations,
        allocated_at=recorded.allocated_at,
        promised_hours=promise.hours if promise else None,
        promised_delivery_at=promise.delivery_at if promise else None,
        reason=recorded.failure_reason,
        sourcing=recorded.sourcing,
    )


def _allocations(decision: Decision) -> list[Allocation]:
    return [
        Allocation(p.centre_id, list(p.lines), p.distance_km, p.handling_hours, p.transit_hours)
        for p in decision.decision.parcels
    ]
