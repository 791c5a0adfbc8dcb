"""Customer, carrier and stock actions on running orders, sent as workflow updates.

A refused update (its validator said no, or the handler found the order dispatched)
becomes 409 with the workflow's reason, as does an update to an order whose workflow has
ended; an order with no workflow becomes 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem
from workflows.order import OrderWorkflow
from workflows.starter import order_workflow_id

Result = TypeVar("Result")


async def ask_order(
    client: Client,
    order_id: str,
    ask: Callable[[WorkflowHandle[OrderWorkflow, object]], Awaitable[Result]],
    refused: str,
) -> Result:
    """Send one update to the order's workflow; map its refusals to problems."""
    handle: WorkflowHandle[OrderWorkflow, object] = client.get_workflow_handle(
        order_workflow_id(order_id)
    )
    try:
        return await ask(handle)
    except WorkflowUpdateFailedError as error:
        raise Problem(409, refused, _reason(error)) from error
    except RPCError as error:
        # Temporal answers an update to a completed workflow with NOT_FOUND too: only an
        # order without any workflow is unknown; one whose workflow has ended is a refusal.
        if error.status is RPCStatusCode.NOT_FOUND and not await _exists(handle):
            raise Problem(404, "Order not found", f"no order {order_id}") from error
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise Problem(409, refused, f"order {order_id} has already ended") from error
        raise Problem(503, "Order service unavailable", f"Temporal: {error.message}") from error


async def _exists(handle: WorkflowHandle[OrderWorkflow, object]) -> bool:
    try:
        await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise Problem(503, "Order service unavailable", f"Temporal: {error.message}") from error
    return True


def _reason(error: WorkflowUpdateFailedError) -> str:
    cause = error.cause
    return str(getattr(cause, "message", None) or cause or error)
