"""Cancel and change of destination: updates allowed until dispatch, with stock moving."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lifecycle import SEATTLE, an_order, handle_of, outcome_of, place, reaches, stock
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.messages import CancelRequest
from domain.network_spec import NetworkSpec
from domain.orders import OrderLine, OrderStatus
from store import queries
from store.orders import OrderWrites
from workflows.order import OrderWorkflow

OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_cancelling_before_dispatch_gives_the_stock_back_and_ends_the_order(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0010", 5))
    await place(client, sessions, network_spec, order, task_queue=task_queue)
    assert await stock(sessions, "ewr", "SKU-0010") == (495, 5, 0)

    result = await handle_of(client, order).execute_update(
        OrderWorkflow.cancel, CancelRequest("changed my mind")
    )
    outcome = await outcome_of(time_skipping_env, order)

    assert result.status is OrderStatus.CANCELLED
    assert outcome.status is OrderStatus.CANCELLED and outcome.reason == "changed my mind"
    assert await stock(sessions, "ewr", "SKU-0010") == (500, 0, 0)


async def test_after_dispatch_cancel_and_change_of_destination_are_refused(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0011", 1))
    await place(client, sessions, network_spec, order, task_queue=task_queue)
    await reaches(time_skipping_env, order, OrderStatus.SHIPPED)
    handle = handle_of(client, order)

    with pytest.raises(WorkflowUpdateFailedError) as cancel_refusal:
        await handle.execute_update(OrderWorkflow.cancel, CancelRequest())
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(OrderWorkflow.change_destination, SEATTLE)
    outcome = await outcome_of(time_skipping_env, order)

    assert "dispatched" in str(cancel_refusal.value.cause)
    assert outcome.status is OrderStatus.DELIVERED
    assert await stock(sessions, "ewr", "SKU-0011") == (499, 0, 1)


async def test_a_new_destination_is_sourced_again_and_the_stock_moves_with_it(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0012", 2))
    await place(client, sessions, network_spec, order, task_queue=task_queue)

    placement = await handle_of(client, order).execute_update(
        OrderWorkflow.change_destination, SEATTLE
    )
    outcome = await outcome_of(time_skipping_env, order)

    assert [a.fulfilment_centre for a in placement.allocations] == ["sea"]
    assert await stock(sessions, "ewr", "SKU-0012") == (500, 0, 0)
    assert await stock(sessions, "sea", "SKU-0012") == (498, 0, 2)
    assert outcome.status is OrderStatus.DELIVERED
    async with sessions() as session:
        view = await queries.get_order(session, order.order_id)
    assert view is not None and view.destination.postal_code == SEATTLE.postal_code


async def test_cancelling_twice_is_refused_the_second_time_and_releases_once(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0013", 3))
    await place(client, sessions, network_spec, order, task_queue=task_queue)
    handle = handle_of(client, order)

    await handle.execute_update(OrderWorkflow.cancel, CancelRequest())
    # The cancelled workflow has ended; the server refuses updates to it.
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await handle.execute_update(OrderWorkflow.cancel, CancelRequest())

    assert await stock(sessions, "ewr", "SKU-0013") == (500, 0, 0)


async def test_an_order_the_database_says_was_cancelled_ends_cancelled_not_failed(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    # What `doms chaos` caught: a cancel's release committed, then its update was lost with
    # a Temporal restart, so the history never saw it. The parcel's dispatch is refused
    # (no longer reserved) and the order ends as the database says, not as `failed`.
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0014", 2))
    await place(client, sessions, network_spec, order, task_queue=task_queue)
    writes = OrderWrites(sessions)
    assert await writes.release(order.order_id, OrderStatus.CANCELLED, "lost cancel", OPENED)

    outcome = await outcome_of(time_skipping_env, order)

    assert outcome.status is OrderStatus.CANCELLED and outcome.reason == "lost cancel"
    assert await handle_of(client, order).query(OrderWorkflow.status) is OrderStatus.CANCELLED
    async with sessions() as session:
        view = await queries.get_order(session, order.order_id)
    assert view is not None and view.status == OrderStatus.CANCELLED
    assert await stock(sessions, "ewr", "SKU-0014") == (500, 0, 0)
