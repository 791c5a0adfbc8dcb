"""The order workflow's happy path and its failures, on the time-skipping test server,
with the real activities on a SQLite app database."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import pytest
from lifecycle import an_order, handle_of, outcome_of, place, running_workers, stock
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.faults import FaultInjector
from activities.messages import Dispatch, ShipInput
from activities.orders import OrderActivities
from domain.network_spec import NetworkSpec
from domain.orders import OrderLine, OrderStatus
from store import outbox, queries
from store.models import ShipmentRow


class FlakyShipping(OrderActivities):
    """The FC's hand-off fails transiently on its first two attempts."""

    attempts = 0

    @activity.defn(name="ship")
    async def ship(self, command: ShipInput) -> Dispatch:
        FlakyShipping.attempts += 1
        if activity.info().attempt <= 2:
            raise RuntimeError("carrier API timed out")
        return await super().ship(command)


async def test_an_order_lives_its_simulated_hours_in_seconds(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order()
    started = time.monotonic()

    placement = await place(client, sessions, network_spec, order, task_queue=task_queue)
    outcome = await outcome_of(time_skipping_env, order)

    assert placement.status is OrderStatus.ALLOCATED
    assert [a.fulfilment_centre for a in placement.allocations] == ["ewr"]
    assert outcome.status is OrderStatus.DELIVERED
    async with sessions() as session:
        view = await queries.get_order(session, order.order_id)
    assert view is not None and view.status == OrderStatus.DELIVERED
    parcel = placement.allocations[0]
    assert view.timings.shipping_hours == pytest.approx(parcel.handling_hours, abs=0.01)
    assert view.timings.delivery_hours == pytest.approx(parcel.transit_hours, abs=0.01)
    assert view.sourcing is not None
    assert time.monotonic() - started < 30


async def test_a_transient_shipping_failure_is_retried_and_the_order_ships_once(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    worker_stack: AsyncExitStack,
) -> None:
    client = time_skipping_env.client
    FlakyShipping.attempts = 0
    task_queue = await running_workers(client, FlakyShipping(sessions, network_spec), worker_stack)
    order = an_order(OrderLine("SKU-0002", 3))

    await place(client, sessions, network_spec, order, task_queue=task_queue)
    outcome = await outcome_of(time_skipping_env, order)

    assert outcome.status is OrderStatus.DELIVERED
    assert FlakyShipping.attempts == 3
    async with sessions() as session:
        shipments = await session.scalar(
            select(func.count()).where(ShipmentRow.order_id == order.order_id)
        )
    assert shipments == 1
    assert await stock(sessions, "ewr", "SKU-0002") == (497, 0, 3)


async def test_a_step_that_exhausts_its_retries_fails_the_order_and_gives_the_stock_back(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    worker_stack: AsyncExitStack,
) -> None:
    client = time_skipping_env.client
    always_down = OrderActivities(sessions, network_spec, FaultInjector(1.0))
    task_queue = await running_workers(client, always_down, worker_stack)
    order = an_order(OrderLine("SKU-0003", 4))

    await place(client, sessions, network_spec, order, task_queue=task_queue)
    reserved_while_trying = await stock(sessions, "ewr", "SKU-0003")
    outcome = await outcome_of(time_skipping_env, order)

    assert reserved_while_trying == (496, 4, 0)
    assert outcome.status is OrderStatus.FAILED
    assert outcome.reason is not None and "shipping failed" in outcome.reason
    assert await stock(sessions, "ewr", "SKU-0003") == (500, 0, 0)
    async with sessions() as session:
        view = await queries.get_order(session, order.order_id)
    assert view is not None and view.status == OrderStatus.FAILED


async def test_an_order_beyond_the_stock_of_any_centre_is_rejected_with_its_short_lines(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    """Rejected when accepted, in the API: recorded so, and no workflow is ever started."""
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0003", 1), OrderLine("SKU-0004", 10_000))

    placement = await place(client, sessions, network_spec, order, task_queue=task_queue)

    assert placement.status is OrderStatus.REJECTED
    assert [(s.sku, s.requested) for s in placement.shortages] == [("SKU-0004", 10_000)]
    async with sessions() as session:
        view = await queries.get_order(session, order.order_id)
        queued = await outbox.is_pending(session, order.order_id)
    assert view is not None and view.status == OrderStatus.REJECTED
    assert not queued  # nothing for the relay to start
    with pytest.raises(RPCError):  # not found: the order has no workflow
        await handle_of(client, order).describe()
    assert (await stock(sessions, "ewr", "SKU-0003"))[1] == 0
