"""Client side of the order workflow: start it."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.messages import OrderRequest
from domain.orders import OrderStatus
from workflows.order import OrderWorkflow
from workflows.search_attributes import FULFILMENT_CENTRE, MODE, ORDER_STATUS, ORDER_TYPE


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def _search_attributes(request: OrderRequest) -> TypedSearchAttributes:
    """The order's as it starts: with its placement, already allocated (or backordered) at
    its centres, so the workflow need not upsert them."""
    placement = request.placement
    status = placement.status if placement else OrderStatus.RECEIVED
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(ORDER_TYPE, request.order_type.value),
        SearchAttributePair(MODE, request.mode.value),
        SearchAttributePair(ORDER_STATUS, status.value),
    ]
    centres = sorted({a.fulfilment_centre for a in placement.allocations}) if placement else []
    if centres:
        pairs.append(SearchAttributePair(FULFILMENT_CENTRE, centres))
    return TypedSearchAttributes(pairs)


async def start_order(client: Client, request: OrderRequest, *, task_queue: str) -> bool:
    """Start the workflow of an order the API already recorded (the outbox intake).

    Idempotent by order id: a running workflow is kept, and one that has already ended is
    never started again (so a repeated start cannot ship an order twice). True when this
    call started it.
    """
    try:
        await client.start_workflow(
            OrderWorkflow.run,
            request,
            id=order_workflow_id(request.order_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=_search_attributes(request),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
