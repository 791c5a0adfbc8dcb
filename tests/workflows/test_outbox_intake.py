"""The outbox intake: an order the API recorded is started by the relay, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from lifecycle import accept, an_order, outcome_of, pending, start_order, stock
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.receipts import wake_backorders
from domain.network_spec import NetworkSpec
from domain.orders import OrderLine, OrderStatus
from store import inventory, outbox
from workflows.relay import LEASE, OutboxRelay

MORE_THAN_ANY_CENTRE_HOLDS = OrderLine("SKU-0020", 600)  # 500 per regional FC


async def test_the_relay_starts_an_accepted_order_which_is_then_delivered_once(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order, placement = await accept(sessions, network_spec, an_order(OrderLine("SKU-0001", 2)))
    relay = OutboxRelay(client, sessions, task_queue)

    relayed = await relay.relay_once()
    outcome = await outcome_of(time_skipping_env, order)
    again = await start_order(client, order, task_queue=task_queue)

    assert placement.status is OrderStatus.ALLOCATED
    assert relayed == 1 and await pending(sessions) == 0
    assert outcome.status is OrderStatus.DELIVERED
    assert not again  # the ended workflow is not started a second time
    assert await relay.relay_once() == 0
    assert await stock(sessions, "ewr", "SKU-0001") == (498, 0, 2)


async def test_a_receipt_starts_a_waiting_backorder_before_waking_it(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    """The receipt comes before the relay started the order's workflow: it is started first."""
    client = time_skipping_env.client
    order, placement = await accept(
        sessions, network_spec, an_order(MORE_THAN_ANY_CENTRE_HOLDS, backorder_hours=48)
    )
    relay = OutboxRelay(client, sessions, task_queue)
    async with sessions() as session:
        await inventory.receive(session, "r-1", "ewr", "SKU-0020", 100, datetime.now(UTC))
        await session.commit()
        woken, allocated = await wake_backorders(session, client, relay)
    outcome = await outcome_of(time_skipping_env, order)

    assert placement.status is OrderStatus.BACKORDERED
    assert (woken, allocated) == (1, [order.order_id])
    assert outcome.status is OrderStatus.DELIVERED
    assert await stock(sessions, "ewr", "SKU-0020") == (0, 0, 600)


async def test_an_order_the_catalogue_does_not_know_is_refused_and_never_started(
    sessions: async_sessionmaker[AsyncSession], network_spec: NetworkSpec
) -> None:
    _, placement = await accept(sessions, network_spec, an_order(OrderLine("SKU-9999", 1)))

    assert placement.status is OrderStatus.REJECTED
    assert placement.unknown_skus == ["SKU-9999"]
    assert await pending(sessions) == 0


async def test_while_temporal_is_unreachable_the_order_waits_in_the_outbox(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    order, _ = await accept(sessions, network_spec, an_order(OrderLine("SKU-0001", 1)))
    nowhere = await Client.connect("127.0.0.1:1", lazy=True)  # nothing listens on port 1

    assert await OutboxRelay(nowhere, sessions, task_queue).relay_once() == 1
    assert await pending(sessions) == 1  # kept for a later attempt, not lost
    async with sessions() as session:  # the failed attempt pushed the lease back
        assert await outbox.lease(session, datetime.now(UTC), LEASE, 10) == []

    async with sessions() as session:  # once its lease has passed, another relay starts it
        await outbox.retry_later(session, [order.order_id], datetime.now(UTC))
    assert await OutboxRelay(time_skipping_env.client, sessions, task_queue).relay_once() == 1
    outcome = await outcome_of(time_skipping_env, order)

    assert outcome.status is OrderStatus.DELIVERED
    assert await pending(sessions) == 0
