"""Orders: place one, read one, list them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from activities.messages import CancelRequest
from api import idempotency, intake
from api.actions import ask_order
from api.auth import AUTH_RESPONSES, CUSTOMERS_AND_OPERATORS, Caller
from api.deps import IntakeDep, SessionDep, SettingsDep
from api.ownership import check_owner, may_act_for, order_not_found
from api.problems import field_problem
from api.schemas import (
    CancelIn,
    CancelPublic,
    DestinationIn,
    Identifier,
    OrderCreate,
    OrderPage,
    OrderPublic,
)
from api.views import order_from_placement, order_from_view
from domain.orders import Mode, OrderStatus, OrderType
from observability.trace_context import current_trace_id
from store import queries
from store.idempotency import IdempotencyKey
from workflows.order import OrderWorkflow

router = APIRouter(
    prefix="/orders",
    tags=["orders"],
    dependencies=CUSTOMERS_AND_OPERATORS,
    responses=AUTH_RESPONSES,
)
PROBLEMS: dict[int | str, dict[str, Any]] = {
    409: {"description": "Cannot be served (out of stock, unknown SKU)"},
    422: {"description": "Invalid input; the problem names the field"},
    503: {"description": "Temporal or the database is unavailable"},
}
KEY_DESCRIPTION = (
    "Optional, 1-255 printable ASCII characters, unique per order you mean to place (a UUID). "
    "A retry with the same key and body gets the first answer again (status, body, Location) "
    f"with `{idempotency.REPLAYED}: true`, and never places a second order; keys are kept at "
    "least 24 hours."
)
PLACE_RESPONSES: dict[int | str, dict[str, Any]] = PROBLEMS | {
    201: {
        "description": "Placed",
        "headers": {
            "Location": {"description": "The order's URL", "schema": {"type": "string"}},
            idempotency.REPLAYED: {
                "description": "`true` when this is the stored answer to an earlier request "
                "with the same Idempotency-Key",
                "schema": {"type": "string"},
            },
        },
    },
    409: {
        "description": "Cannot be served (out of stock, unknown SKU); or a request with the "
        "same Idempotency-Key is still in progress (with Retry-After)"
    },
    422: {
        "description": "Invalid input, the problem names the field; or the Idempotency-Key "
        "is malformed or was used with a different body"
    },
}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=OrderPublic, responses=PLACE_RESPONSES
)
async def place_order(
    body: OrderCreate,
    settings: SettingsDep,
    placing: IntakeDep,
    response: Response,
    caller: Caller,
    idempotency_key: Annotated[
        str | None, Header(alias=idempotency.HEADER, description=KEY_DESCRIPTION)
    ] = None,
) -> OrderPublic | Response:
    """Place an order: answers with its allocation and promise; shipping goes on afterwards.

    A customer key places orders for its own customer id only.
    """
    if not may_act_for(caller, body.customer_id):
        message = "a customer key places orders for its own customer id only"
        raise field_problem(403, "Forbidden", "customer_id", message)
    if idempotency_key is not None:
        # Keys belong to the API key that sent them: two callers' keys never meet.
        key = IdempotencyKey(caller.key_id, idempotency.checked_key(idempotency_key))
        return await idempotency.place_once(placing, body, key)
    request = intake.order_request(body, settings)
    placement = await placing.place(request)
    response.headers["Location"] = intake.order_location(request.order_id)
    return order_from_placement(request, placement, current_trace_id())


@router.get("/{order_id}", responses={404: {"description": "No such order"}})
async def get_order(order_id: Identifier, session: SessionDep, caller: Caller) -> OrderPublic:
    """One order with its status, allocations, promise and phase timings."""
    view = await queries.get_order(session, order_id)
    if view is None or not may_act_for(caller, view.customer_id):
        raise order_not_found(order_id)
    return order_from_view(view)


@router.get("")
async def list_orders(
    session: SessionDep,
    caller: Caller,
    customer_id: Identifier | None = None,
    order_status: Annotated[OrderStatus | None, Query(alias="status")] = None,
    order_type: OrderType | None = None,
    mode: Mode | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Identifier | None = None,
) -> OrderPage:
    """Orders newest first, filtered; follow `next_cursor` for the next page.

    A customer key lists its own orders only (none, filtered by another customer id).
    """
    if caller.is_customer:
        if customer_id not in (None, caller.customer_id):
            return OrderPage(items=[], next_cursor=None)
        customer_id = caller.customer_id
    where = queries.OrderFilter(customer_id, order_status, order_type, mode)
    page = await queries.list_orders(session, where, limit, after=cursor)
    return OrderPage(
        items=[order_from_view(view) for view in page.items], next_cursor=page.next_cursor
    )


@router.post("/{order_id}/cancel", responses=PROBLEMS | {404: {"description": "No such order"}})
async def cancel_order(
    order_id: Identifier,
    placing: IntakeDep,
    session: SessionDep,
    caller: Caller,
    body: CancelIn | None = None,
) -> CancelPublic:
    """Cancel an order before dispatch; its reserved stock goes back (409 once dispatched)."""
    await check_owner(session, caller, order_id)
    request = body or CancelIn()
    outcome = await ask_order(
        placing.temporal,
        order_id,
        lambda order: order.execute_update(OrderWorkflow.cancel, CancelRequest(request.reason)),
        refused="Order cannot be cancelled",
        relay=placing.relay,
    )
    return CancelPublic(order_id=order_id, status=outcome.status, reason=outcome.reason)


@router.patch(
    "/{order_id}/destination", responses=PROBLEMS | {404: {"description": "No such order"}}
)
async def change_destination(
    order_id: Identifier,
    body: DestinationIn,
    session: SessionDep,
    placing: IntakeDep,
    caller: Caller,
) -> OrderPublic:
    """Ship to another address: the order is sourced again (409 once dispatched)."""
    current = await queries.get_order(session, order_id)
    if current is None or not may_act_for(caller, current.customer_id):
        raise order_not_found(order_id)
    destination = intake.destination_for(OrderType(current.order_type), body)
    await ask_order(
        placing.temporal,
        order_id,
        lambda order: order.execute_update(OrderWorkflow.change_destination, destination),
        refused="Destination cannot change",
        relay=placing.relay,
    )
    session.expire_all()
    changed = await queries.get_order(session, order_id)
    assert changed is not None
    return order_from_view(changed)
