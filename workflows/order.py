"""One workflow per order (id `order-<order_id>`): allocate, ship each parcel, deliver.

The API sources the order and reserves its stock, and the outbox relay starts the workflow
with that placement in its input (workflows/relay.py); the rest goes on in the background.
Simulated hours become real seconds through the order's speedup, so a lifecycle of days runs
in seconds locally and in no real time at all on the time-skipping test server.

Customer actions (cancel, change of destination) are updates allowed until a parcel is
dispatched. A gate makes that race-free: an action closes the gate before it touches
stock, and a parcel only dispatches through an open gate and marks the order dispatched;
an action that finds the order dispatched is refused.

Running orders are replayed on new code: a change to the commands this workflow issues
goes behind `workflow.patched`, and tests/workflows/test_replay.py replays recorded
histories to catch one that does not (CONTRIBUTING.md, "Changing the order workflow
safely").
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.messages import (
        AllocateInput,
        Allocation,
        CancelRequest,
        CarrierEvent,
        CarrierEventKind,
        DeliveryInput,
        OrderOutcome,
        OrderRequest,
        Placement,
        ReallocateInput,
        ReleaseInput,
        ShipInput,
    )
    from activities.orders import OrderActivities
    from domain.clock import SimClock
    from domain.network import task_queue_of
    from domain.orders import (
        FINAL_STATUSES,
        MAY_CHANGE_DESTINATION,
        CarrierMode,
        Destination,
        OrderStatus,
        may_follow,
    )
    from domain.timings import reported
    from workflows.search_attributes import FULFILMENT_CENTRE, ORDER_STATUS

# Short database steps run as local activities: fewer history events per order.
DB_STEP_TIMEOUT = timedelta(seconds=10)
DB_STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=8,
)
# Compensation must happen: it keeps retrying.
COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30)
)
# The FC's pick/pack/ship: a bounded number of attempts, then the order is compensated.
# Time spent waiting for a stopped FC worker does not count: attempts start when it returns.
FC_STEP_TIMEOUT = timedelta(seconds=30)
FC_STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=20),
    maximum_attempts=6,
)

# Logged when the order's status changes in a way the lifecycle's table does not allow.
LEFT_THE_LIFECYCLE = "order status went from %s to %s, which the lifecycle does not allow"


Command = TypeVar("Command")
Result = TypeVar("Result")


class Replanned(Exception):
    """The destination changed: the parcels in flight give way to the new plan."""


@workflow.defn(name="Order")
class OrderWorkflow:
    @workflow.init
    def __init__(self, request: OrderRequest) -> None:
        # Set here, not in run: an update may arrive in the workflow's very first task.
        self._request: OrderRequest | None = request
        self._placement: Placement | None = None
        # Started with its placement (the outbox intake), the workflow was started with the
        # search attributes that placement gives (workflows/starter.py).
        placed = request.placement
        self._status = placed.status if placed else OrderStatus.RECEIVED
        self._centres = _centres_of(placed) if placed else []
        self._gate_closed = False  # a customer action is changing the order
        self._dispatched = False  # a parcel has begun to leave: actions are refused
        self._replanned = False
        self._ended: OrderOutcome | None = None  # set by cancel or backorder expiry
        self._events: dict[tuple[str, CarrierEventKind], CarrierEvent] = {}
        self._parcels: list[asyncio.Task[float]] = []

    @workflow.run
    async def run(self, request: OrderRequest) -> OrderOutcome:
        self._request = request
        # The API sourced and reserved the order and passed its placement in; orders started
        # without one (histories recorded before it was passed) allocate it here.
        placement = request.placement or await self._allocate(request)
        self._set_placement(placement)
        if placement.status is OrderStatus.BACKORDERED:
            await self._wait_for_stock(request, placement)
        outcome = self._ended or await self._fulfil_until_done(request)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return outcome

    @workflow.query
    def status(self) -> OrderStatus:
        return self._status

    # -- updates: what the API asks of a running order -------------------------------

    @workflow.update
    async def placement(self) -> Placement:
        """The sourcing decision, once made; asking again answers the same."""
        await workflow.wait_condition(lambda: self._placement is not None)
        assert self._placement is not None
        return self._placement

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrderOutcome:
        """Cancel before dispatch: the stock goes back and the order ends `cancelled`."""
        await self._checked_change()
        async with self._customer_action():
            outcome = await self._end(OrderStatus.CANCELLED, request.reason)
            self._stop_fulfilment()
        return outcome

    @cancel.validator
    def _may_cancel(self, request: CancelRequest) -> None:
        self._refuse_unless_changeable()

    @workflow.update
    async def change_destination(self, destination: Destination) -> Placement:
        """Re-source the order for a new destination before dispatch; stock moves with it."""
        await self._checked_change(need_allocated=True)
        request = self._current_request()
        async with self._customer_action():
            placement = await self._db_step(
                OrderActivities.reallocate,
                ReallocateInput(request, destination, workflow.now()),
            )
            if placement.status is not OrderStatus.ALLOCATED:
                raise ApplicationError(placement.reason or "cannot serve", type="CannotServe")
            self._request = dataclasses.replace(request, destination=destination)
            self._set_placement(placement)
            self._replanned = True
            self._stop_fulfilment()
        return placement

    @change_destination.validator
    def _may_change_destination(self, destination: Destination) -> None:
        self._refuse_unless_changeable(need_allocated=True)

    @workflow.update
    async def retry_allocation(self) -> Placement:
        """Stock arrived: a backordered order tries again (the API asks in arrival order)."""
        await workflow.wait_condition(lambda: self._placement is not None)
        return await self._try_stock_again()

    @workflow.update
    async def carrier_event(self, event: CarrierEvent) -> None:
        """A real carrier's news about one of this order's shipments."""
        await workflow.wait_condition(lambda: self._placement is not None)
        if reason := self._carrier_event_error(event):  # checked again once placed
            raise ApplicationError(reason, type="CarrierEventRefused")
        self._events[(event.shipment_id, event.kind)] = event

    @carrier_event.validator
    def _check_carrier_event(self, event: CarrierEvent) -> None:
        if self._current_request().carrier is not CarrierMode.EVENTS:
            raise ValueError("this order's carrier is simulated; it takes no carrier events")
        if self._placement is not None and (reason := self._carrier_event_error(event)):
            raise ValueError(reason)

    def _carrier_event_error(self, event: CarrierEvent) -> str | None:
        request = self._current_request()
        allocations = self._placement.allocations if self._placement else []
        if event.shipment_id not in [a.shipment_id(request.order_id) for a in allocations]:
            return f"order {request.order_id} has no shipment {event.shipment_id}"
        if event.kind is CarrierEventKind.DELIVERED and (
            (event.shipment_id, CarrierEventKind.DISPATCHED) not in self._events
        ):
            return f"shipment {event.shipment_id} has not been dispatched"
        return None

    # -- the lifecycle ------------------------------------------------------------------

    async def _allocate(self, request: OrderRequest) -> Placement:
        placed_at = request.placed_at or workflow.info().start_time
        command = AllocateInput(request, placed_at, workflow.now())
        try:
            return await self._db_step(OrderActivities.allocate, command)
        except ActivityError as error:
            reason = f"allocation failed after retries: {error.cause or error}"
            return Placement(request.order_id, OrderStatus.FAILED, command.placed_at, reason=reason)

    async def _try_stock_again(self) -> Placement:
        request, placement = self._current_request(), self._placement
        if placement is None or placement.status is not OrderStatus.BACKORDERED or self._ended:
            return self._placement or _not_placed(request)
        retried = await self._db_step(
            OrderActivities.retry_backorder,
            AllocateInput(request, placement.placed_at, workflow.now()),
        )
        if retried.status is OrderStatus.ALLOCATED and not self._ended:
            self._set_placement(retried)
        return retried

    async def _wait_for_stock(self, request: OrderRequest, placement: Placement) -> None:
        hours = request.backorder_hours or 0.0
        waiting = SimClock(request.speedup).real_seconds(hours)
        try:
            await workflow.wait_condition(
                lambda: self._backorder_settled(), timeout=timedelta(seconds=waiting)
            )
        except TimeoutError:
            if not self._backorder_settled():
                reason = f"no stock arrived within the {hours:g} h the order agreed to wait"
                async with self._customer_action():
                    await self._end(OrderStatus.CANCELLED, reason)

    def _backorder_settled(self) -> bool:
        placement = self._placement
        return self._ended is not None or (
            placement is not None and placement.status is not OrderStatus.BACKORDERED
        )

    async def _fulfil_until_done(self, request: OrderRequest) -> OrderOutcome:
        placement = self._placement
        assert placement is not None
        if placement.status is not OrderStatus.ALLOCATED:
            self._set_status(placement.status)
            return OrderOutcome(request.order_id, placement.status, placement.reason)
        while True:
            try:
                delivery_hours = await self._ship_every_parcel()
                break
            except Replanned:
                self._replanned = False
            except asyncio.CancelledError:
                if self._ended is None:
                    raise  # the workflow itself was cancelled
                return self._ended
            except ActivityError as error:
                return await self._compensate(f"shipping failed: {error.cause or error}")
            except ApplicationError as error:  # a carrier exception
                return await self._compensate(str(error))
        return await self._deliver(delivery_hours)

    async def _ship_every_parcel(self) -> float:
        placement, request = self._placement, self._current_request()
        assert placement is not None
        ship = self._ship_by_events if request.carrier is CarrierMode.EVENTS else self._ship
        parcels = [asyncio.create_task(ship(request, a)) for a in placement.allocations]
        self._parcels = parcels
        try:
            hours = await asyncio.gather(*parcels)
        except BaseException:
            for parcel in parcels:
                parcel.cancel()
            if self._replanned:
                raise Replanned() from None
            raise
        return max(hours)

    def _stop_fulfilment(self) -> None:
        for parcel in self._parcels:
            parcel.cancel()

    async def _ship(self, request: OrderRequest, allocation: Allocation) -> float:
        """Simulated FC and carrier: handling timer, pick/pack/ship, transit timer."""
        await self._simulate(request, allocation.handling_hours)
        await self._dispatch(request, allocation, allocation.handling_hours)
        await self._simulate(request, allocation.transit_hours)
        return allocation.transit_hours

    async def _simulate(self, request: OrderRequest, hours: float) -> None:
        """Let `hours` of simulated time pass: a durable timer, unless delays are off."""
        if request.simulated_delays:
            await workflow.sleep(SimClock(request.speedup).real_seconds(hours))

    async def _ship_by_events(self, request: OrderRequest, allocation: Allocation) -> float:
        """A real carrier: wait for its dispatched and delivered events for this parcel."""
        clock, shipment = SimClock(request.speedup), allocation.shipment_id(request.order_id)
        dispatched = await self._carrier_news(shipment, CarrierEventKind.DISPATCHED)
        allocated_at = self._placement.allocated_at if self._placement else None
        waited = (dispatched.at - (allocated_at or dispatched.at)).total_seconds()
        await self._dispatch(request, allocation, clock.sim_hours(max(0.0, waited)))
        delivered = await self._carrier_news(shipment, CarrierEventKind.DELIVERED)
        return clock.sim_hours(max(0.0, (delivered.at - dispatched.at).total_seconds()))

    async def _carrier_news(self, shipment: str, kind: CarrierEventKind) -> CarrierEvent:
        problem = (shipment, CarrierEventKind.EXCEPTION)
        await workflow.wait_condition(
            lambda: (shipment, kind) in self._events or problem in self._events
        )
        if problem in self._events:
            detail = self._events[problem].detail or "no detail"
            raise ApplicationError(f"carrier exception on {shipment}: {detail}", type="Carrier")
        return self._events[(shipment, kind)]

    async def _dispatch(
        self, request: OrderRequest, allocation: Allocation, handling: float
    ) -> None:
        await workflow.wait_condition(lambda: not self._gate_closed)
        self._dispatched = True
        await workflow.execute_activity_method(
            OrderActivities.ship,
            ShipInput(
                request.order_id,
                allocation.fulfilment_centre,
                handling,
                workflow.now(),
                request.speedup,
                request.order_type,
                request.mode,
            ),
            task_queue=task_queue_of(allocation.fulfilment_centre),
            start_to_close_timeout=FC_STEP_TIMEOUT,
            retry_policy=FC_STEP_RETRY,
        )
        self._set_status(OrderStatus.SHIPPED)

    async def _deliver(self, delivery_hours: float) -> OrderOutcome:
        request = self._current_request()
        await self._db_step(
            OrderActivities.record_delivery,
            DeliveryInput(request.order_id, workflow.now(), reported(delivery_hours)),
        )
        self._set_status(OrderStatus.DELIVERED)
        return OrderOutcome(request.order_id, OrderStatus.DELIVERED)

    async def _compensate(self, reason: str) -> OrderOutcome:
        """A step failed for good: the order fails and its unshipped stock goes back."""
        return await self._end(OrderStatus.FAILED, reason)

    async def _end(self, status: OrderStatus, reason: str) -> OrderOutcome:
        """Give back every unit not yet shipped (idempotent) and end the order."""
        request = self._current_request()
        ended = await workflow.execute_local_activity_method(
            OrderActivities.release,
            ReleaseInput(
                request.order_id, status, reason, workflow.now(), request.order_type, request.mode
            ),
            start_to_close_timeout=DB_STEP_TIMEOUT,
            retry_policy=COMPENSATION_RETRY,
        )
        # The database may know an earlier end this history lost (a cancel whose release
        # committed before its update was recorded, then lost with a server restart): the
        # order ends as the database says. None in histories recorded before it answered.
        if ended is not None:
            status, reason = ended.status, ended.reason or reason
        self._ended = OrderOutcome(request.order_id, status, reason)
        self._set_status(status)
        return self._ended

    # -- helpers ----------------------------------------------------------------------

    def _refuse_unless_changeable(self, need_allocated: bool = False) -> None:
        """For validators. An order still being placed passes: its handler waits and checks."""
        if reason := self._why_unchangeable(need_allocated):
            raise ValueError(reason)

    async def _checked_change(self, need_allocated: bool = False) -> None:
        """For handlers: wait for the placement (the API may have accepted the order before
        this workflow sourced it), then refuse as the validator would have."""
        await workflow.wait_condition(lambda: self._placement is not None)
        if reason := self._why_unchangeable(need_allocated):
            raise ApplicationError(reason, type="NotChangeable")

    def _why_unchangeable(self, need_allocated: bool) -> str | None:
        if self._dispatched:
            return "the order has been dispatched; it can no longer change"
        if self._status in FINAL_STATUSES or self._ended:
            return f"the order is {self._status}; it can no longer change"
        if self._gate_closed:
            return "another change to this order is in progress; try again"
        placed = self._placement is not None
        if need_allocated and placed and self._status not in MAY_CHANGE_DESTINATION:
            return f"only an allocated order can move; this one is {self._status}"
        return None

    def _customer_action(self) -> _Gate:
        return _Gate(self)

    def _current_request(self) -> OrderRequest:
        assert self._request is not None
        return self._request

    def _set_placement(self, placement: Placement) -> None:
        self._placement = placement
        self._set_status(placement.status)
        centres = _centres_of(placement)
        if centres and centres != self._centres:
            self._centres = centres
            workflow.upsert_search_attributes([FULFILMENT_CENTRE.value_set(centres)])

    def _set_status(self, status: OrderStatus) -> None:
        """A change the lifecycle does not allow (domain/orders.py) is logged, not refused:
        refusing would fail the workflow task again on every retry."""
        if status is not self._status:
            if not may_follow(self._status, status):
                workflow.logger.warning(LEFT_THE_LIFECYCLE, self._status, status)
            self._status = status
            workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])

    async def _db_step(
        self, step: Callable[[OrderActivities, Command], Awaitable[Result]], command: Command
    ) -> Result:
        return await workflow.execute_local_activity_method(
            step, command, start_to_close_timeout=DB_STEP_TIMEOUT, retry_policy=DB_STEP_RETRY
        )


class _Gate:
    """Holds dispatch back while a customer action runs; refuses it once dispatched."""

    def __init__(self, order: OrderWorkflow) -> None:
        self._order = order

    async def __aenter__(self) -> None:
        if self._order._dispatched:
            raise ApplicationError("the order has been dispatched", type="AlreadyDispatched")
        self._order._gate_closed = True

    async def __aexit__(self, *_: object) -> None:
        self._order._gate_closed = False


def _centres_of(placement: Placement) -> list[str]:
    return sorted({a.fulfilment_centre for a in placement.allocations})


def _not_placed(request: OrderRequest) -> Placement:
    return Placement(request.order_id, OrderStatus.RECEIVED, workflow.now())
