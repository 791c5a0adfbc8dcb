"""One order id never starts two workflows: not when the relay starts it again, nor when it
is started again with its placement, nor when a POST is retried with its Idempotency-Key,
even after the first workflow has ended."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import Response
from lifecycle import accept, an_order, handle_of, outcome_of, pending, start_order
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.messages import OrderRequest, request_to_json
from api.idempotency import REPLAYED, place_once
from api.intake import Intake, answer_of
from api.schemas import OrderCreate
from domain.network_spec import NetworkSpec
from domain.orders import OrderLine, OrderStatus
from doms.settings import Settings
from placing.service import Placing
from store import idempotency, outbox
from store.idempotency import ClaimTerms, IdempotencyKey
from workflows.relay import OutboxRelay

BODY = OrderCreate.model_validate(
    {
        "customer_id": "c-42",
        "order_type": "standard",
        "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
        "lines": [{"sku": "SKU-0001", "quantity": 1}],
    }
)


@pytest.fixture
async def intake(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> AsyncIterator[Intake]:
    """The API's intake as `doms api` runs it: its relay running beside it."""
    client = time_skipping_env.client
    relay = OutboxRelay(client, sessions, task_queue)
    settings = Settings(task_queue=task_queue, speedup=1.0)  # real hours: the server skips them
    running = asyncio.create_task(relay.run())
    try:
        yield Intake(settings, client, Placing(sessions, network_spec), relay, sessions)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


def body_of(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(bytes(response.body))
    return body


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


async def test_starting_an_order_again_while_it_runs_or_after_it_ended_keeps_one_run(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    network_spec: NetworkSpec,
    task_queue: str,
) -> None:
    """As the relay starts it: with the placement the API decided in its input."""
    client = time_skipping_env.client
    order, placement = await accept(sessions, network_spec, an_order(OrderLine("SKU-0001", 1)))
    started = dataclasses.replace(order, placement=placement)

    first = await start_order(client, started, task_queue=task_queue)
    first_run = await latest_run_id(client, order)
    again = await start_order(client, started, task_queue=task_queue)  # while it runs
    outcome = await outcome_of(time_skipping_env, order)
    after_the_end = await start_order(client, started, task_queue=task_queue)

    assert (first, again, after_the_end) == (True, False, False)
    assert outcome.status is OrderStatus.DELIVERED
    assert await latest_run_id(client, order) == first_run


async def test_a_post_retried_with_its_key_gets_the_one_order_and_never_a_second_run(
    time_skipping_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    intake: Intake,
) -> None:
    client = time_skipping_env.client
    key = IdempotencyKey("anonymous", "k-1")
    first = await place_once(intake, BODY, key)
    order_id = body_of(first)["order_id"]
    order = dataclasses.replace(an_order(), order_id=order_id)
    await intake.relay.wait_started(order_id)
    first_run = await latest_run_id(client, order)

    while_running = await place_once(intake, BODY, key)
    outcome = await outcome_of(time_skipping_env, order)
    after_the_end = await place_once(intake, BODY, key)

    assert first.status_code == 201 and REPLAYED not in first.headers
    assert body_of(first)["status"] == OrderStatus.ALLOCATED
    assert outcome.status is OrderStatus.DELIVERED
    for retried in (while_running, after_the_end):
        assert retried.status_code == 201 and retried.headers[REPLAYED] == "true"
        assert body_of(retried) == body_of(first)  # the first answer, not what became of it
        assert retried.headers["Location"] == first.headers["Location"]
    assert await latest_run_id(client, order) == first_run


async def test_the_intake_records_the_answer_to_an_idempotency_key_with_the_order(
    sessions: async_sessionmaker[AsyncSession], intake: Intake
) -> None:
    order = dataclasses.replace(an_order(OrderLine("SKU-0001", 1)), speedup=1.0)
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
    assert record is not None and record.placed is not None
    answer = answer_of(record.placed)  # what a retry with the key is answered
    assert answer.status_code == 201
    assert answer.body["order_id"] == order.order_id
    assert answer.location == f"/orders/{order.order_id}"
    await intake.relay.wait_started(order.order_id)  # it does not outlive the test server
