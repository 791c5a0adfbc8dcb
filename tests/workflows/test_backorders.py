"""Orders that agreed to wait for stock: allocated when a receipt comes, or cancelled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lifecycle import SEATTLE, an_order, handle_of, outcome_of, place, stock
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.network_spec import NetworkSpec
from domain.orders import OrderLine, OrderStatus
from store import inventory
from workflows.order import OrderWorkflow

MORE_THAN_ANY_CENTRE_HOLDS = OrderLine("SKU-0020", 600)  # 500 per regional FC


async def test_a_backordered_order_is_allocated_when_stock_arrives(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(MORE_THAN_ANY_CENTRE_HOLDS, backorder_hours=48)
    placement = await place(client, sessions, network_spec, order, task_queue=task_queue)
    async with sessions() as session:
        await inventory.receive(session, "r-1", "ewr", "SKU-0020", 100, datetime.now(UTC))
        await session.commit()

    retried = await handle_of(client, order).execute_update(OrderWorkflow.retry_allocation)
    outcome = await outcome_of(time_skipping_env, order)

    assert placement.status is OrderStatus.BACKORDERED
    assert retried.status is OrderStatus.ALLOCATED
    assert outcome.status is OrderStatus.DELIVERED
    assert await stock(sessions, "ewr", "SKU-0020") == (0, 0, 600)


async def test_a_backorder_that_waits_in_vain_is_cancelled_with_its_reason(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(MORE_THAN_ANY_CENTRE_HOLDS, backorder_hours=6)

    await place(client, sessions, network_spec, order, task_queue=task_queue)
    outcome = await outcome_of(time_skipping_env, order)

    assert outcome.status is OrderStatus.CANCELLED
    assert outcome.reason is not None and "6 h" in outcome.reason
    assert await stock(sessions, "ewr", "SKU-0020") == (500, 0, 0)


async def test_without_a_receipt_asking_again_leaves_the_order_waiting(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(MORE_THAN_ANY_CENTRE_HOLDS, backorder_hours=48)
    await place(client, sessions, network_spec, order, task_queue=task_queue)

    retried = await handle_of(client, order).execute_update(OrderWorkflow.retry_allocation)

    assert retried.status is OrderStatus.BACKORDERED
    assert await handle_of(client, order).query(OrderWorkflow.status) == OrderStatus.BACKORDERED


async def test_a_backordered_order_cannot_move_to_another_destination(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order = an_order(MORE_THAN_ANY_CENTRE_HOLDS, backorder_hours=48)
    await place(client, sessions, network_spec, order, task_queue=task_queue)

    with pytest.raises(WorkflowUpdateFailedError) as refusal:
        await handle_of(client, order).execute_update(OrderWorkflow.change_destination, SEATTLE)

    assert "backordered" in str(refusal.value.cause)
