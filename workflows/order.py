"""One workflow per order (id `order-<order_id>`): allocate, ship from each FC, deliver.

The API starts it with update-with-start and the `placement` update answers with the
sourcing decision, while shipping and delivery continue in the background. Simulated
hours become real seconds through the order's speedup, so a lifecycle of days runs in
seconds locally and in zero real time on the time-skipping test server.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.messages import (
        AllocateInput,
        Allocation,
        DeliveryInput,
        OrderRequest,
        Placement,
        ShipInput,
    )
    from activities.orders import OrderActivities
    from domain.clock import SimClock
    from domain.network import task_queue_of
    from domain.orders import OrderStatus
    from domain.service_levels import handling_hours, transit_hours
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
# The FC's pick/pack/ship keeps being retried: the parcel must leave exactly once.
FC_STEP_TIMEOUT = timedelta(seconds=30)
FC_STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)


@dataclass(frozen=True)
class OrderOutcome:
    order_id: str
    status: OrderStatus
    reason: str | None = None


@workflow.defn(name="Order")
class OrderWorkflow:
    def __init__(self) -> None:
        self._placement: Placement | None = None

    @workflow.run
    async def run(self, request: OrderRequest) -> OrderOutcome:
        placement = await self._allocate(request)
        self._placement = placement
        if placement.status is not OrderStatus.ALLOCATED:
            self._set_status(placement.status)
            return OrderOutcome(request.order_id, placement.status, placement.reason)
        workflow.upsert_search_attributes(
            [
                ORDER_STATUS.value_set(OrderStatus.ALLOCATED.value),
                FULFILMENT_CENTRE.value_set(placement.allocations[0].fulfilment_centre),
            ]
        )
        transits = await asyncio.gather(*(self._ship(request, a) for a in placement.allocations))
        await workflow.execute_local_activity_method(
            OrderActivities.record_delivery,
            DeliveryInput(request.order_id, workflow.now(), reported(max(transits))),
            start_to_close_timeout=DB_STEP_TIMEOUT,
            retry_policy=DB_STEP_RETRY,
        )
        self._set_status(OrderStatus.DELIVERED)
        return OrderOutcome(request.order_id, OrderStatus.DELIVERED)

    @workflow.update
    async def placement(self) -> Placement:
        """The sourcing decision, once made; asking again answers the same."""
        await workflow.wait_condition(lambda: self._placement is not None)
        assert self._placement is not None
        return self._placement

    async def _allocate(self, request: OrderRequest) -> Placement:
        command = AllocateInput(request, workflow.info().start_time, workflow.now())
        try:
            return await workflow.execute_local_activity_method(
                OrderActivities.allocate,
                command,
                start_to_close_timeout=DB_STEP_TIMEOUT,
                retry_policy=DB_STEP_RETRY,
            )
        except ActivityError as error:
            reason = f"allocation failed after retries: {error.cause or error}"
            return Placement(request.order_id, OrderStatus.FAILED, command.placed_at, reason=reason)

    async def _ship(self, request: OrderRequest, allocation: Allocation) -> float:
        """Handling at the FC, hand-off to the carrier, transit to the customer.

        Returns the parcel's transit hours.
        """
        clock = SimClock(request.speedup)
        handling = handling_hours(request.order_type)
        await workflow.sleep(clock.real_seconds(handling))
        command = ShipInput(
            request.order_id,
            allocation.fulfilment_centre,
            handling,
            workflow.now(),
            request.speedup,
        )
        await workflow.execute_activity_method(
            OrderActivities.ship,
            command,
            task_queue=task_queue_of(allocation.fulfilment_centre),
            start_to_close_timeout=FC_STEP_TIMEOUT,
            retry_policy=FC_STEP_RETRY,
        )
        self._set_status(OrderStatus.SHIPPED)
        transit = transit_hours(request.order_type, allocation.distance_km)
        await workflow.sleep(clock.real_seconds(transit))
        return transit

    def _set_status(self, status: OrderStatus) -> None:
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])
