"""The placing service: a new order sourced, its stock reserved and the order recorded in one
unit of work, whoever places it: the API (POST /orders) or the order workflow's activities.

One session and one transaction per order: the decision reads stock and backlog, then the
order's rows are written with what its placement brings along, then committed; whatever
fails before the commit leaves nothing of it. The caller passes what comes along as data:
- `start`: the order's workflow is started after the commit, from an outbox row
  (store/outbox.py) with the placement in its input; none for a rejection, which is final;
- `key`: an Idempotency-Key, completed with the order placed under it (store/idempotency.py),
  from which the API renders the key's answer. Nothing here knows HTTP.

The decision is read before the first write, so on SQLite before the write lock
(store/sqlite_writers.py): the stock it saw may go to another order meanwhile, which the
conditional reservation finds; the transaction rolls back and the order is sourced again.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.messages import OrderRequest, Placement, request_to_json
from domain.clock import SimClock
from domain.network_spec import NetworkSpec
from domain.orders import Destination, OrderLine, OrderStatus
from observability import metrics
from placing.decisions import (
    Decision,
    allocated,
    backordered,
    decide,
    new_order,
    parcels_of,
    promise_for,
    recorded_placement,
    rejected,
)
from store import idempotency, orders, outbox
from store.idempotency import IdempotencyKey, PlacedOrder
from store.orders import NewOrder, OrderWrites

# Another order may take the stock between reading it and reserving it; source again.
SOURCING_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class StartTerms:
    """Queue the order's workflow start with it, in the trace of the request that placed it."""

    traceparent: str | None


class Placing:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], spec: NetworkSpec) -> None:
        self.spec = spec
        self._sessions = sessions
        self._writes = OrderWrites(sessions)
        self._centres = [fc.id for fc in spec.network.centres]

    async def place(
        self,
        request: OrderRequest,
        placed_at: datetime,
        *,
        decided_at: datetime | None = None,
        start: StartTerms | None = None,
        key: IdempotencyKey | None = None,
    ) -> Placement:
        """Source a new order and record it allocated, backordered or rejected, with what its
        placement brings along, in one transaction; then count it.

        Raises OrderAlreadyRecorded, and changes nothing, when the order id is taken.
        """
        order = new_order(request, placed_at)
        async with self._sessions() as session:  # rolled back unless committed
            work = _OrderWork(session, request, order, decided_at or placed_at, start, key)
            placement = await self._source_and_record(work)
        metrics.count_order(metrics.PLACED, order.order_type, order.mode)
        _count_outcome(order, placement)
        return placement

    async def allocate_backordered(
        self, request: OrderRequest, placed_at: datetime, at: datetime
    ) -> Placement:
        """Stock arrived: allocate a backordered order if it can be served now, else it keeps
        waiting (answered as recorded)."""
        order = new_order(request, placed_at)
        for _ in range(SOURCING_ATTEMPTS):
            decision = await self._decide(order, order.destination)
            if not decision.served:
                break
            promise = promise_for(order, decision, at)
            parcels, sourcing = parcels_of(decision), decision.as_dict()
            if await self._writes.allocate_backordered(
                order.order_id, parcels, promise, at, sourcing
            ):
                placement = allocated(order, decision, promise, at)
                _count_outcome(order, placement)
                return placement
        waiting = await self.recorded(order.order_id, placed_at)
        assert waiting is not None
        return waiting

    async def reallocate(
        self, request: OrderRequest, destination: Destination, at: datetime
    ) -> Placement:
        """Source an allocated order again for a new destination and move its reservation;
        rejected, and nothing changed, when it cannot be served there."""
        order = new_order(request, at)
        recorded = await self._writes.allocation_of(order.order_id)
        own = recorded.reservations if recorded else {}
        for _ in range(SOURCING_ATTEMPTS):
            decision = await self._decide(order, destination, own_reserved=own)
            if not decision.served:
                return rejected(order, decision.reason, decision)
            promise = promise_for(order, decision, at)
            parcels, sourcing = parcels_of(decision), decision.as_dict()
            if await self._writes.reallocate(
                order.order_id, destination, parcels, promise, sourcing
            ):
                return allocated(order, decision, promise, at)
        return rejected(order, "stock moved while re-sourcing; try again", None)

    async def recorded(self, order_id: str, placed_at: datetime) -> Placement | None:
        """What an earlier attempt recorded for this order, if anything."""
        found = await self._writes.allocation_of(order_id)
        return None if found is None else recorded_placement(order_id, placed_at, found)

    async def _source_and_record(self, work: _OrderWork) -> Placement:
        order = work.order
        for _ in range(SOURCING_ATTEMPTS):
            decision = await decide(
                work.session, self.spec, self._centres, order, order.destination
            )
            if decision.unknown_skus:
                return await work.reject(
                    f"unknown SKU: {', '.join(decision.unknown_skus)}", decision
                )
            if not decision.served:
                return await work.backorder_or_reject(decision)
            if placement := await work.allocate(decision):
                return placement
        return await work.backorder_or_reject(decision)

    async def _decide(
        self,
        order: NewOrder,
        destination: Destination,
        own_reserved: dict[str, list[OrderLine]] | None = None,
    ) -> Decision:
        async with self._sessions() as session:
            return await decide(session, self.spec, self._centres, order, destination, own_reserved)


@dataclasses.dataclass(frozen=True)
class _OrderWork:
    """One new order's unit of work: each outcome writes the order's rows and what they bring
    along, then commits."""

    session: AsyncSession
    request: OrderRequest
    order: NewOrder
    at: datetime
    start: StartTerms | None
    key: IdempotencyKey | None

    async def allocate(self, decision: Decision) -> Placement | None:
        """Allocated and committed; None, rolled back, when a parcel's stock went meanwhile."""
        promise = promise_for(self.order, decision, self.at)
        placement = allocated(self.order, decision, promise, self.at)
        await orders.add_allocated(self.session, self.order, promise, self.at, decision.as_dict())
        await self._bring_along(placement)
        if not await orders.reserve(self.session, self.order, parcels_of(decision)):
            await self.session.rollback()
            return None
        return await self._commit(placement)

    async def backorder_or_reject(self, decision: Decision) -> Placement:
        """Short of stock: the order waits for it, if it agreed to; else it is rejected."""
        hours = self.request.backorder_hours
        if hours is None:
            return await self.reject(decision.reason, decision)
        until = self.at + timedelta(seconds=SimClock(self.order.speedup).real_seconds(hours))
        placement = backordered(self.order, decision, until)
        await orders.add_backordered(self.session, self.order, decision.as_dict(), until)
        await self._bring_along(placement)
        return await self._commit(placement)

    async def reject(self, reason: str, decision: Decision) -> Placement:
        placement = rejected(self.order, reason, decision)
        await orders.add_rejected(self.session, self.order, reason)
        await self._bring_along(placement)
        return await self._commit(placement)

    async def _bring_along(self, placement: Placement) -> None:
        """Queue the workflow's start and complete the key, as the caller asked."""
        if self.start is None and self.key is None:
            return
        placed = request_to_json(dataclasses.replace(self.request, placement=placement))
        order_id, at = self.order.order_id, self.order.placed_at
        if self.start is not None and placement.status is not OrderStatus.REJECTED:
            await outbox.add(self.session, order_id, placed, at, self.start.traceparent)
        if self.key is not None:
            await idempotency.complete(
                self.session, self.key, PlacedOrder(placed, self.order.trace_id)
            )

    async def _commit(self, placement: Placement) -> Placement:
        await self.session.commit()
        return placement


def _count_outcome(order: NewOrder, placement: Placement) -> None:
    """Allocated counts at each FC of the order; backordered and rejected once."""
    centres = [a.fulfilment_centre for a in placement.allocations] or [""]
    for centre in centres:
        metrics.count_order(placement.status, order.order_type, order.mode, centre)
