"""The order workflow on the time-skipping test server, with the real activities on SQLite."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.messages import Dispatch, OrderRequest, ShipInput
from activities.orders import OrderActivities
from domain.network import DEFAULT_NETWORK
from domain.orders import Destination, Mode, OrderLine, OrderStatus, OrderType
from domain.service_levels import handling_hours, transit_hours
from doms.worker import order_workers
from store import queries
from store.models import ShipmentRow, StockRow
from workflows.order import OrderOutcome
from workflows.starter import order_workflow_id, place_order

MANHATTAN = Destination("US", "10001", 40.75, -73.99)


def an_order(*lines: OrderLine, order_type: OrderType = OrderType.STANDARD) -> OrderRequest:
    return OrderRequest(
        order_id=uuid.uuid4().hex,
        customer_id="c-42",
        order_type=order_type,
        destination=MANHATTAN,
        lines=list(lines) or [OrderLine("SKU-0001", 2)],
        mode=Mode.DISTRIBUTED,
        speedup=1.0,  # real hours: the test server skips them
    )


async def outcome_of(env: WorkflowEnvironment, order: OrderRequest) -> OrderOutcome:
    """Await the workflow's result while letting the test server skip its timers."""
    handle = env.client.get_workflow_handle(
        order_workflow_id(order.order_id), result_type=OrderOutcome
    )
    # Only handles from start_workflow skip time by themselves; update-with-start's do not.
    async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
        return await handle.result()


class FlakyShipping(OrderActivities):
    """The FC's hand-off fails transiently on its first two attempts."""

    attempts = 0

    @activity.defn(name="ship")
    async def ship(self, command: ShipInput) -> Dispatch:
        FlakyShipping.attempts += 1
        if activity.info().attempt <= 2:
            raise RuntimeError("carrier API timed out")
        return await super().ship(command)


async def running_workers(
    client: Client, activities: OrderActivities, stack: AsyncExitStack
) -> str:
    task_queue = f"orders-{uuid.uuid4()}"
    for worker in order_workers(client, task_queue, activities, DEFAULT_NETWORK):
        await stack.enter_async_context(worker)
    return task_queue


@pytest.fixture
async def worker_stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def test_an_order_lives_days_of_simulated_hours_in_seconds(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    worker_stack: AsyncExitStack,
) -> None:
    client = time_skipping_env.client
    task_queue = await running_workers(
        client, OrderActivities(sessions, DEFAULT_NETWORK), worker_stack
    )
    order = an_order()
    started = time.monotonic()

    placement = await place_order(client, order, task_queue=task_queue)
    outcome = await outcome_of(time_skipping_env, order)

    assert placement.status is OrderStatus.ALLOCATED
    assert [a.fulfilment_centre for a in placement.allocations] == ["ewr"]
    assert outcome.status is OrderStatus.DELIVERED
    async with sessions() as session:
        view = await queries.get_order(session, order.order_id)
    assert view is not None and view.status == OrderStatus.DELIVERED
    distance = placement.allocations[0].distance_km
    assert view.timings.shipping_hours == pytest.approx(handling_hours(order.order_type), abs=0.01)
    assert view.timings.delivery_hours == pytest.approx(
        transit_hours(order.order_type, distance), abs=0.01
    )
    assert time.monotonic() - started < 30


async def test_a_transient_shipping_failure_is_retried_and_the_order_ships_once(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    worker_stack: AsyncExitStack,
) -> None:
    client = time_skipping_env.client
    FlakyShipping.attempts = 0
    task_queue = await running_workers(
        client, FlakyShipping(sessions, DEFAULT_NETWORK), worker_stack
    )
    order = an_order(OrderLine("SKU-0002", 3))

    await place_order(client, order, task_queue=task_queue)
    outcome = await outcome_of(time_skipping_env, order)

    assert outcome.status is OrderStatus.DELIVERED
    assert FlakyShipping.attempts == 3
    async with sessions() as session:
        shipments = await session.scalar(
            select(func.count()).where(ShipmentRow.order_id == order.order_id)
        )
        stock = await session.get(StockRow, ("ewr", "SKU-0002"))
    assert shipments == 1
    assert stock is not None and (stock.shipped, stock.reserved) == (3, 0)


async def test_an_order_beyond_the_stock_of_any_centre_is_rejected_with_its_short_lines(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    worker_stack: AsyncExitStack,
) -> None:
    client = time_skipping_env.client
    task_queue = await running_workers(
        client, OrderActivities(sessions, DEFAULT_NETWORK), worker_stack
    )
    order = an_order(OrderLine("SKU-0003", 1), OrderLine("SKU-0004", 10_000))

    placement = await place_order(client, order, task_queue=task_queue)
    outcome = await outcome_of(time_skipping_env, order)

    assert placement.status is OrderStatus.REJECTED
    assert [(s.sku, s.requested) for s in placement.shortages] == [("SKU-0004", 10_000)]
    assert outcome.status is OrderStatus.REJECTED
    async with sessions() as session:
        untouched = await session.get(StockRow, ("ewr", "SKU-0003"))
    assert untouched is not None and untouched.reserved == 0
