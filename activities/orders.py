"""The order lifecycle's activities: sourcing and stock through the placing service (local),
compensation and recording (local), pick/pack/ship (per FC)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.faults import FaultInjector
from activities.messages import (
    AllocateInput,
    DeliveryInput,
    Dispatch,
    OrderEnded,
    Placement,
    ReallocateInput,
    ReleaseInput,
    ShipInput,
)
from domain.network_spec import NetworkSpec
from domain.orders import OrderStatus
from domain.timings import shipping_hours
from observability import metrics
from placing.service import Placing
from store.orders import OrderAlreadyRecorded, OrderWrites


class OrderActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        spec: NetworkSpec,
        faults: FaultInjector | None = None,
    ) -> None:
        self.placing = Placing(sessions, spec)  # what POST /orders places orders with, too
        self._writes = OrderWrites(sessions)
        self._faults = faults or FaultInjector(0.0)

    @activity.defn(name="allocate")
    async def allocate(self, command: AllocateInput) -> Placement:
        """Source the order and reserve its stock; or backorder it, or reject it."""
        order_id, placed_at = command.request.order_id, command.placed_at
        recorded = await self.placing.recorded(order_id, placed_at)
        if recorded is None:
            try:
                return await self.placing.place(
                    command.request, placed_at, decided_at=command.decided_at
                )
            except OrderAlreadyRecorded:  # a concurrent attempt won; answer what it decided
                recorded = await self.placing.recorded(order_id, placed_at)
        assert recorded is not None
        return recorded

    @activity.defn(name="retry_backorder")
    async def retry_backorder(self, command: AllocateInput) -> Placement:
        """Stock arrived: try to allocate a backordered order; it keeps waiting if not."""
        return await self.placing.allocate_backordered(
            command.request, command.placed_at, command.decided_at
        )

    @activity.defn(name="reallocate")
    async def reallocate(self, command: ReallocateInput) -> Placement:
        """Re-source for a new destination; the old reservation is released in the same step."""
        return await self.placing.reallocate(
            command.request, command.destination, command.decided_at
        )

    @activity.defn(name="release")
    async def release(self, command: ReleaseInput) -> OrderEnded | None:
        """Compensation: unshipped units go back to stock; safe to repeat.

        Answers how the order ended: as asked, or as an earlier step ended it (whose record
        in the workflow's history may have been lost); None for an unknown order.
        """
        if await self._writes.release(command.order_id, command.status, command.reason, command.at):
            metrics.count_order(command.status, command.order_type, command.mode)
            return OrderEnded(command.status, command.reason)
        ended = await self._writes.ending_of(command.order_id)
        return None if ended is None else OrderEnded(*ended)

    @activity.defn(name="ship")
    async def ship(self, command: ShipInput) -> Dispatch:
        """Pick, pack and hand the parcel to the carrier; runs on the FC's own task queue."""
        self._faults.maybe_fail(f"WMS at {command.fulfilment_centre}")
        shipment_id = f"{command.order_id}-{command.fulfilment_centre}"
        # The server's start time of this attempt: the same clock the workflow sees,
        # including in time-skipping tests.
        dispatched_at = activity.info().started_time
        hours = shipping_hours(
            command.handling_hours, command.ready_at, dispatched_at, command.speedup
        )
        shipped = await self._writes.record_shipment(
            command.order_id, command.fulfilment_centre, shipment_id, dispatched_at, hours
        )
        if not shipped:  # released or moved meanwhile: nothing may leave this FC
            raise ApplicationError(
                f"parcel {shipment_id} is no longer reserved",
                type="NotReserved",
                non_retryable=True,
            )
        metrics.count_order(
            OrderStatus.SHIPPED, command.order_type, command.mode, command.fulfilment_centre
        )
        return Dispatch(shipment_id, dispatched_at, hours)

    @activity.defn(name="record_delivery")
    async def record_delivery(self, command: DeliveryInput) -> None:
        delivered = await self._writes.record_delivery(
            command.order_id, command.delivered_at, command.delivery_hours
        )
        if delivered is not None:  # not a repeat
            metrics.count_order(OrderStatus.DELIVERED, delivered.order_type, delivered.mode)
            metrics.observe_phases(delivered.order_type, delivered.mode, delivered.timings)
