"""The order lifecycle's activities: allocate (local), ship (on the FC's task queue), deliver."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.messages import (
    AllocateInput,
    Allocation,
    DeliveryInput,
    Dispatch,
    OrderRequest,
    Placement,
    ShipInput,
)
from domain.clock import SimClock
from domain.geo import great_circle_km
from domain.network import FulfilmentCentre, Network
from domain.orders import OrderStatus
from domain.service_levels import promised_hours
from domain.sourcing import (
    Candidate,
    Shortage,
    eligible_centres,
    rank_candidates,
    shortages,
    unknown_skus,
)
from domain.timings import order_hours, shipping_hours
from store import inventory
from store.orders import NewOrder, OrderAlreadyRecorded, OrderWrites, Promise, RecordedAllocation


class OrderActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], network: Network) -> None:
        self._sessions = sessions
        self._writes = OrderWrites(sessions)
        self._network = network

    @activity.defn(name="allocate")
    async def allocate(self, command: AllocateInput) -> Placement:
        """Source the order to the nearest FC that can serve it whole, and reserve its stock."""
        order = _new_order(command)
        recorded = await self._writes.allocation_of(order.order_id)
        if recorded is None:
            try:
                return await self._source(order, command.decided_at)
            except OrderAlreadyRecorded:  # a concurrent attempt won; answer what it decided
                recorded = await self._writes.allocation_of(order.order_id)
        assert recorded is not None
        return self._placement_from(order, recorded)

    async def _source(self, order: NewOrder, decided_at: datetime) -> Placement:
        skus = {line.sku for line in order.lines}
        centre_ids = [fc.id for fc in eligible_centres(self._network, order.mode)]
        async with self._sessions() as session:
            known = await inventory.known_skus(session, skus)
            stock = await inventory.stock_levels(session, skus, centre_ids)
        if missing := unknown_skus(order.lines, known):
            return await self._reject(order, f"unknown SKU: {', '.join(missing)}", unknown=missing)
        for candidate in rank_candidates(
            self._network, order.mode, order.destination, order.lines, stock
        ):
            promise = _promise(order, candidate)
            if await self._writes.allocate(order, candidate.centre.id, promise, decided_at):
                return _allocated(order, candidate, promise, decided_at)
        if short := shortages(self._network, order.mode, order.lines, stock):
            return await self._reject(order, "out of stock", short=short)
        return await self._reject(order, "no fulfilment centre can serve the whole order")

    async def _reject(
        self,
        order: NewOrder,
        reason: str,
        short: list[Shortage] | None = None,
        unknown: list[str] | None = None,
    ) -> Placement:
        await self._writes.reject(order, reason)
        return _rejected(order, reason, short, unknown)

    @activity.defn(name="ship")
    async def ship(self, command: ShipInput) -> Dispatch:
        """Pick, pack and hand the parcel to the carrier; runs on the FC's own task queue."""
        shipment_id = f"{command.order_id}-{command.fulfilment_centre}"
        # The server's start time of this attempt: the same clock the workflow sees,
        # including in time-skipping tests.
        dispatched_at = activity.info().started_time
        hours = shipping_hours(
            command.handling_hours, command.ready_at, dispatched_at, command.speedup
        )
        await self._writes.record_shipment(
            command.order_id, command.fulfilment_centre, shipment_id, dispatched_at, hours
        )
        return Dispatch(shipment_id, dispatched_at, hours)

    @activity.defn(name="record_delivery")
    async def record_delivery(self, command: DeliveryInput) -> None:
        await self._writes.record_delivery(
            command.order_id, command.delivered_at, command.delivery_hours
        )

    def _placement_from(self, order: NewOrder, recorded: RecordedAllocation) -> Placement:
        if recorded.status is OrderStatus.REJECTED or recorded.promise is None:
            return _rejected(order, recorded.failure_reason or "rejected")
        allocations = [
            Allocation(fc_id, lines, _distance(self._network.get(fc_id), order))
            for fc_id, lines in recorded.reservations.items()
        ]
        return Placement(
            order.order_id,
            OrderStatus.ALLOCATED,
            order.placed_at,
            allocations,
            allocated_at=recorded.allocated_at,
            order_hours=_order_hours(order, recorded.allocated_at),
            promised_hours=recorded.promise.hours,
            promised_delivery_at=recorded.promise.delivery_at,
        )


def _new_order(command: AllocateInput) -> NewOrder:
    request: OrderRequest = command.request
    return NewOrder(
        order_id=request.order_id,
        customer_id=request.customer_id,
        order_type=request.order_type,
        mode=request.mode,
        destination=request.destination,
        lines=tuple(request.lines),
        speedup=request.speedup,
        placed_at=command.placed_at,
    )


def _promise(order: NewOrder, candidate: Candidate) -> Promise:
    hours = promised_hours(order.order_type, candidate.distance_km)
    real = timedelta(seconds=SimClock(order.speedup).real_seconds(hours))
    return Promise(hours, order.placed_at + real)


def _order_hours(order: NewOrder, allocated_at: datetime | None) -> float | None:
    if allocated_at is None:
        return None
    return order_hours(order.placed_at, allocated_at, order.speedup)


def _distance(centre: FulfilmentCentre, order: NewOrder) -> float:
    destination = order.destination
    return great_circle_km(centre.lat, centre.lon, destination.lat, destination.lon)


def _allocated(
    order: NewOrder, candidate: Candidate, promise: Promise, allocated_at: datetime
) -> Placement:
    allocation = Allocation(candidate.centre.id, list(order.lines), candidate.distance_km)
    return Placement(
        order.order_id,
        OrderStatus.ALLOCATED,
        order.placed_at,
        [allocation],
        allocated_at=allocated_at,
        order_hours=_order_hours(order, allocated_at),
        promised_hours=promise.hours,
        promised_delivery_at=promise.delivery_at,
    )


def _rejected(
    order: NewOrder,
    reason: str,
    short: list[Shortage] | None = None,
    unknown: list[str] | None = None,
) -> Placement:
    return Placement(
        order.order_id,
        OrderStatus.REJECTED,
        order.placed_at,
        reason=reason,
        shortages=list(short or []),
        unknown_skus=list(unknown or []),
    )
