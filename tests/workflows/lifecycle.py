"""Helpers for workflow tests: orders, workers on a fresh task queue, awaiting outcomes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.messages import OrderOutcome, OrderRequest, Placement, request_to_json
from activities.orders import OrderActivities
from domain.network_spec import NetworkSpec
from domain.orders import CarrierMode, Destination, Mode, OrderLine, OrderStatus, OrderType
from doms.worker import order_workers
from placing.service import Placing, StartTerms
from store import outbox
from store.models import StockRow
from workflows.order import OrderWorkflow
from workflows.starter import order_workflow_id, start_queued

MANHATTAN = Destination("US", "10001", 40.75, -73.99)
SEATTLE = Destination("US", "98101", 47.61, -122.33)


def an_order(
    *lines: OrderLine,
    order_type: OrderType = OrderType.STANDARD,
    destination: Destination = MANHATTAN,
    backorder_hours: float | None = None,
    carrier: CarrierMode = CarrierMode.SIMULATED,
) -> OrderRequest:
    return OrderRequest(
        order_id=uuid.uuid4().hex,
        customer_id="c-42",
        order_type=order_type,
        destination=destination,
        lines=list(lines) or [OrderLine("SKU-0001", 2)],
        mode=Mode.DISTRIBUTED,
        speedup=1.0,  # real hours: the test server skips them
        backorder_hours=backorder_hours,
        carrier=carrier,
    )


async def running_workers(
    client: Client, activities: OrderActivities, stack: AsyncExitStack
) -> str:
    task_queue = f"orders-{uuid.uuid4()}"
    network = activities.placing.spec.network  # the activities' own network
    for worker in order_workers(client, task_queue, activities, network):
        await stack.enter_async_context(worker)
    return task_queue


async def start_order(client: Client, request: OrderRequest, *, task_queue: str) -> bool:
    """As the relay starts an order: from its outbox JSON (workflows/starter.py)."""
    return await start_queued(client, json.dumps(request_to_json(request)), task_queue=task_queue)


def handle_of(client: Client, order: OrderRequest) -> WorkflowHandle[OrderWorkflow, OrderOutcome]:
    return client.get_workflow_handle_for(OrderWorkflow.run, order_workflow_id(order.order_id))


async def outcome_of(env: WorkflowEnvironment, order: OrderRequest) -> OrderOutcome:
    """Await the workflow's result while letting the test server skip its timers."""
    # Only handles from start_workflow skip time by themselves; update-with-start's do not.
    async with env.time_skipping_unlocked():  # type: ignore[attr-defined]
        return await handle_of(env.client, order).result()


async def reaches(env: WorkflowEnvironment, order: OrderRequest, status: OrderStatus) -> None:
    """Skip simulated time until the order's workflow reports `status`."""
    handle = handle_of(env.client, order)
    async with asyncio.timeout(30):
        while await handle.query(OrderWorkflow.status) != status:
            await env.sleep(600)  # ten simulated minutes


async def stock(
    sessions: async_sessionmaker[AsyncSession], fc_id: str, sku: str
) -> tuple[int, int, int]:
    """(available, reserved, shipped) of one SKU at one FC."""
    async with sessions() as session:
        row = await session.get(StockRow, (fc_id, sku))
    assert row is not None
    return row.available, row.reserved, row.shipped


async def accept(
    sessions: async_sessionmaker[AsyncSession], spec: NetworkSpec, order: OrderRequest
) -> tuple[OrderRequest, Placement]:
    """What POST /orders does with the outbox intake, short of notifying its relay."""
    at = datetime.now(UTC)
    order = dataclasses.replace(order, placed_at=at)
    placing = Placing(sessions, spec)
    return order, await placing.place(order, at, start=StartTerms(traceparent=None))


async def place(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    spec: NetworkSpec,
    order: OrderRequest,
    *,
    task_queue: str,
) -> Placement:
    """What production does with an order: POST /orders accepts it in the database, then the
    relay starts its workflow with the placement in its input."""
    order, placement = await accept(sessions, spec, order)
    if placement.status in (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED):
        started = dataclasses.replace(order, placement=placement)
        await start_order(client, started, task_queue=task_queue)
        async with sessions() as session:
            await outbox.remove(session, [order.order_id])
    return placement


async def pending(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return await outbox.pending_count(session)
