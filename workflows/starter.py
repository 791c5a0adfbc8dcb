"""Client side of the order workflow: start it."""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import (
    RawValue,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.orders import OrderStatus
from workflows.order import OrderWorkflow
from workflows.search_attributes import FULFILMENT_CENTRE, MODE, ORDER_STATUS, ORDER_TYPE


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


# How Temporal's default converter marks JSON: a stored input is passed on as it is.
JSON_PLAIN = {"encoding": b"json/plain"}


def search_attributes_of(request: dict[str, Any]) -> TypedSearchAttributes:
    """The order's as it starts (`request` is the workflow's input as JSON): with its
    placement, already allocated (or backordered) at its centres, so the workflow need not
    upsert them."""
    placement = request.get("placement")
    status = placement["status"] if placement else OrderStatus.RECEIVED.value
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(ORDER_TYPE, request["order_type"]),
        SearchAttributePair(MODE, request["mode"]),
        SearchAttributePair(ORDER_STATUS, status),
    ]
    allocations = placement["allocations"] if placement else []
    if centres := sorted({a["fulfilment_centre"] for a in allocations}):
        pairs.append(SearchAttributePair(FULFILMENT_CENTRE, centres))
    return TypedSearchAttributes(pairs)


async def start_queued(client: Client, request_json: str, *, task_queue: str) -> bool:
    """Start the workflow of an order the API already recorded, from its input as the outbox
    stores it (JSON text of an OrderRequest): passed to Temporal as it is, not decoded into
    the dataclass and encoded again.

    Idempotent by order id: a running workflow is kept, and one that has already ended is
    never started again (so a repeated start cannot ship an order twice). True when this
    call started it.
    """
    request = json.loads(request_json)
    payload = Payload(metadata=JSON_PLAIN, data=request_json.encode())
    try:
        await client.start_workflow(  # type: ignore[misc]  # the input is RawValue, not typed
            OrderWorkflow.run,
            RawValue(payload),  # the OrderRequest, already encoded
            id=order_workflow_id(request["order_id"]),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=search_attributes_of(request),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
