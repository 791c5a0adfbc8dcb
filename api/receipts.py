"""After a stock receipt: backordered orders try again, oldest first."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.orders import OrderStatus
from store import queries
from workflows.order import OrderWorkflow
from workflows.relay import OutboxRelay
from workflows.starter import order_workflow_id

# One receipt wakes at most this many orders; the rest wait for the next receipt.
MAX_WOKEN_PER_RECEIPT = 200


async def wake_backorders(
    session: AsyncSession, temporal: Client, relay: OutboxRelay | None
) -> tuple[int, list[str]]:
    """Ask each waiting order, in arrival order and one at a time, to allocate now.

    One at a time is what makes arrival order hold: an order asks only after the one
    before it has taken what it could. An order accepted a moment ago may still be waiting
    for its workflow (the outbox intake): it is started first.
    """
    waiting = (await queries.backordered_order_ids(session))[:MAX_WOKEN_PER_RECEIPT]
    allocated: list[str] = []
    for order_id in waiting:
        if relay is not None:
            await relay.wait_started(order_id)
        handle = temporal.get_workflow_handle(order_workflow_id(order_id))
        try:
            placement = await handle.execute_update(OrderWorkflow.retry_allocation)
        except (WorkflowUpdateFailedError, RPCError):
            continue  # it ended meanwhile (expired or cancelled): nothing to wake
        if placement.status is OrderStatus.ALLOCATED:
            allocated.append(order_id)
    return len(waiting), allocated
