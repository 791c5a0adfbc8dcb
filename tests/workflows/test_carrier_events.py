"""A real carrier (DOMS_CARRIER=events) reports dispatch, delivery and exceptions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lifecycle import an_order, handle_of, outcome_of, place, stock
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.messages import CarrierEvent, CarrierEventKind
from domain.network_spec import NetworkSpec
from domain.orders import CarrierMode, OrderLine, OrderStatus
from workflows.order import OrderWorkflow


async def test_the_carrier_s_events_drive_the_order_to_delivered(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0030", 1), carrier=CarrierMode.EVENTS)
    placement = await place(client, sessions, network_spec, order, task_queue=task_queue)
    shipment = placement.allocations[0].shipment_id(order.order_id)
    handle = handle_of(client, order)
    at = placement.placed_at

    with pytest.raises(WorkflowUpdateFailedError):  # delivered before dispatched
        await handle.execute_update(
            OrderWorkflow.carrier_event, CarrierEvent(shipment, CarrierEventKind.DELIVERED, at)
        )
    dispatched = CarrierEvent(shipment, CarrierEventKind.DISPATCHED, at + timedelta(hours=3))
    delivered = CarrierEvent(shipment, CarrierEventKind.DELIVERED, at + timedelta(hours=20))
    await handle.execute_update(OrderWorkflow.carrier_event, dispatched)
    await handle.execute_update(OrderWorkflow.carrier_event, delivered)
    outcome = await outcome_of(time_skipping_env, order)

    assert outcome.status is OrderStatus.DELIVERED
    assert await stock(sessions, "ewr", "SKU-0030") == (499, 0, 1)


async def test_a_carrier_exception_before_dispatch_fails_the_order_and_releases_stock(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0031", 2), carrier=CarrierMode.EVENTS)
    placement = await place(client, sessions, network_spec, order, task_queue=task_queue)
    shipment = placement.allocations[0].shipment_id(order.order_id)

    await handle_of(client, order).execute_update(
        OrderWorkflow.carrier_event,
        CarrierEvent(shipment, CarrierEventKind.EXCEPTION, placement.placed_at, "no pickup"),
    )
    outcome = await outcome_of(time_skipping_env, order)

    assert outcome.status is OrderStatus.FAILED
    assert outcome.reason is not None and "no pickup" in outcome.reason
    assert await stock(sessions, "ewr", "SKU-0031") == (500, 0, 0)


async def test_events_for_a_simulated_order_or_an_unknown_shipment_are_refused(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    simulated = an_order(OrderLine("SKU-0032", 1))
    placement = await place(client, sessions, network_spec, simulated, task_queue=task_queue)

    with pytest.raises(WorkflowUpdateFailedError):
        await handle_of(client, simulated).execute_update(
            OrderWorkflow.carrier_event,
            CarrierEvent("nope-ewr", CarrierEventKind.DISPATCHED, placement.placed_at),
        )
