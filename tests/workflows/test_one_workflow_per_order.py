"""One order id never starts two workflows: not when the relay starts it again, nor when a
retried placement (an Idempotency-Key taken over after a crash) reaches Temporal again, even
after the first workflow has ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lifecycle import accept, an_order, handle_of, outcome_of, pending
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from activities.messages import OrderRequest, Placement, request_to_json
from activities.orders import OrderActivities
from api.intake import Intake
from domain.network_spec import NetworkSpec
from domain.orders import OrderLine, OrderStatus
from doms.settings import Settings
from store import idempotency, outbox
from store.idempotency import ClaimTerms, IdempotencyKey
from workflows.relay import OutboxRelay
from workflows.starter import place_order


def parcels(placement: Placement) -> list[tuple[str, list[OrderLine]]]:
    return [(a.fulfilment_centre, a.lines) for a in placement.allocations]


async def latest_run_id(client: Client, order: OrderRequest) -> str:
    """The run the order's workflow id points at now: a second start would be a new one."""
    run_id = (await handle_of(client, order).describe()).run_id
    assert run_id is not None
    return run_id


async def queue_again(sessions: async_sessionmaker[AsyncSession], order: OrderRequest) -> None:
    """The order's row back in the outbox, as a relay leaves it that died after starting."""
    async with sessions() as session:
        await outbox.add(session, order.order_id, request_to_json(order), datetime.now(UTC))
        await session.commit()


async def test_relaying_an_order_again_while_running_or_after_it_ended_keeps_one_run(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    order, _ = await accept(sessions, network_spec, an_order(OrderLine("SKU-0001", 1)))
    relay = OutboxRelay(client, sessions, task_queue)
    assert await relay.relay_once() == 1
    first_run = await latest_run_id(client, order)

    await queue_again(sessions, order)
    assert await relay.relay_once() == 1  # while it runs
    outcome = await outcome_of(time_skipping_env, order)
    await queue_again(sessions, order)
    assert await relay.relay_once() == 1  # after it has ended

    assert outcome.status is OrderStatus.DELIVERED
    assert await latest_run_id(client, order) == first_run
    assert await pending(sessions) == 0  # each repeated row was cleared, not retried forever


async def test_placing_an_order_again_answers_from_the_same_run_and_never_restarts_it(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    order = an_order(OrderLine("SKU-0001", 1))

    first = await place_order(client, order, task_queue=task_queue)
    again = await place_order(client, order, task_queue=task_queue)  # while it runs
    first_run = await latest_run_id(client, order)
    await outcome_of(time_skipping_env, order)
    with pytest.raises(WorkflowAlreadyStartedError):
        await place_order(client, order, task_queue=task_queue)  # after it has ended

    assert again == first
    assert await latest_run_id(client, order) == first_run


async def test_the_workflow_intake_answers_a_retry_after_the_end_from_the_store(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    settings = Settings(intake="workflow", task_queue=task_queue)
    intake = Intake(settings, client, OrderActivities(sessions, network_spec), None, sessions)
    order = an_order(OrderLine("SKU-0001", 1))
    first = await intake.place(order)
    first_run = await latest_run_id(client, order)
    await outcome_of(time_skipping_env, order)

    retried = await intake.place(order)

    assert (retried.order_id, retried.placed_at) == (first.order_id, first.placed_at)
    assert retried.status is first.status is OrderStatus.ALLOCATED  # not what became of it
    assert parcels(retried) == parcels(first)
    assert retried.promised_delivery_at == first.promised_delivery_at
    assert await latest_run_id(client, order) == first_run


async def test_the_workflow_intake_records_the_answer_to_an_idempotency_key(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    settings = Settings(intake="workflow", task_queue=task_queue)
    placing = OrderActivities(sessions, network_spec)
    intake = Intake(settings, time_skipping_env.client, placing, None, sessions)
    order = an_order(OrderLine("SKU-0001", 1))
    key = IdempotencyKey("anonymous", "k-1")
    now = datetime.now(UTC)
    terms = ClaimTerms(
        "hash", order.order_id, "the-test", now, timedelta(minutes=1), timedelta(hours=24)
    )
    async with sessions() as session:
        assert (await idempotency.claim(session, key, terms)).ours

    await intake.place(order, key)

    async with sessions() as session:
        record = await idempotency.record_of(session, key)
    assert record is not None and record.answer is not None
    assert record.answer.status_code == 201
    assert record.answer.body["order_id"] == order.order_id
    assert record.answer.location == f"/orders/{order.order_id}"
