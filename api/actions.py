"""Customer, carrier and stock actions on running orders, sent as workflow updates.

A refused update (its validator said no, or the handler found the order dispatched)
becomes 409 with the workflow's reason, as does an update to an order whose workflow has
ended; an order with no workflow becomes 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem
from workflows.order import OrderWorkflow
from workflows.relay import OutboxRelay
from workflows.starter import order_workflow_id

Result = TypeVar("Result")


async def ask_order(
    client: Client,
    order_id: str,
    ask: Callable[[WorkflowHandle[OrderWorkflow, object]], Awaitable[Result]],
    refused: str,
    *,
    relay: OutboxRelay | None = None,
) -> Result:
    """Send one update to the order's workflow; map its refusals to problems.

    With the outbox intake, an order accepted a moment ago may have no workflow yet: the
    relay is asked to start it now, and the update is sent again.
    """
    handle: WorkflowHandle[OrderWorkflow, object] = client.get_workflow_handle(
        order_workflow_id(order_id)
    )
    try:
        return await _asked(handle, ask, refused, order_id)
    except Problem as problem:
        if problem.status != 404 or relay is None:
            raise
        await relay.wait_started(order_id)  # accepted a moment ago: its workflow is starting
    return await _asked(handle, ask, refused, order_id)


async def _asked(
    handle: WorkflowHandle[OrderWorkflow, object],
    ask: Callable[[WorkflowHandle[OrderWorkflow, object]], Awaitable[Result]],
    refused: str,
    order_id: str,
    again: bool = True,
) -> Result:
    try:
        return await ask(handle)
    except WorkflowUpdateFailedError as error:
        raise Problem(409, refused, _reason(error)) from error
    except RPCError as error:
        if error.status is RPCStatusCode.FAILED_PRECONDITION:
            raise Problem(409, refused, f"order {order_id} has already ended") from error
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise _unavailable(error) from error
        # Temporal answers NOT_FOUND for an update to a completed workflow too, and the
        # workflow may have started since (the outbox relay): ask what there is.
        running = await _running(handle)
        if running is None:
            raise Problem(404, "Order not found", f"no order {order_id}") from error
        if not running or not again:
            raise Problem(409, refused, f"order {order_id} has already ended") from error
    return await _asked(handle, ask, refused, order_id, again=False)


async def _running(handle: WorkflowHandle[OrderWorkflow, object]) -> bool | None:
    """Whether the order's workflow runs; None when it has none."""
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        raise _unavailable(error) from error
    return described.status is WorkflowExecutionStatus.RUNNING


def _unavailable(error: RPCError) -> Problem:
    return Problem(503, "Order service unavailable", f"Temporal: {error.message}")


def _reason(error: WorkflowUpdateFailedError) -> str:
    cause = error.cause
    return str(getattr(cause, "message", None) or cause or error)
