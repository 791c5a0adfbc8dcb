"""The fulfilment network and its stock: centres (any key), stock levels and receipts
(operators)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from api import receipts
from api.auth import AUTH_RESPONSES, KEY_RESPONSES, OPERATOR_ONLY, Caller
from api.deps import IntakeDep, SessionDep
from api.problems import Problem, field_problem
from api.schemas import (
    CentrePublic,
    Identifier,
    ReceiptIn,
    ReceiptPublic,
    StockPage,
    StockPublic,
)
from store import inventory, queries

router = APIRouter(tags=["network"], responses=KEY_RESPONSES)


@router.get("/fulfilment-centres")
async def list_centres(session: SessionDep, caller: Caller) -> list[CentrePublic]:
    """Every fulfilment centre of the network, central one included; capacities to operators."""
    centres = [
        CentrePublic.model_validate(c, from_attributes=True)
        for c in await queries.list_centres(session)
    ]
    if caller.is_operator:
        return centres
    return [centre.model_copy(update={"capacity_per_hour": None}) for centre in centres]


@router.get(
    "/inventory",
    dependencies=OPERATOR_ONLY,
    responses=AUTH_RESPONSES | {404: {"description": "No such fulfilment centre"}},
)
async def list_stock(
    session: SessionDep,
    fulfilment_centre: Identifier | None = None,
    sku: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=80, pattern=r"^[^|]+\|[^|]+$")] = None,
) -> StockPage:
    """Stock per FC and SKU: on hand = available + reserved + shipped."""
    after = None
    if cursor:
        fc_id, _, sku_after = cursor.partition("|")
        after = (fc_id, sku_after)
    try:
        page = await inventory.list_stock(session, fulfilment_centre, sku, limit, after)
    except inventory.UnknownCentre as error:
        title = "Unknown fulfilment centre"
        raise field_problem(404, title, "fulfilment_centre", str(error)) from error
    items = [
        StockPublic(
            fulfilment_centre=row.fc_id,
            sku=row.sku,
            on_hand=row.on_hand,
            available=row.available,
            reserved=row.reserved,
            shipped=row.shipped,
        )
        for row in page.items
    ]
    return StockPage(
        items=items, next_cursor="|".join(page.next_cursor) if page.next_cursor else None
    )


@router.post(
    "/inventory/receipts",
    status_code=status.HTTP_201_CREATED,
    dependencies=OPERATOR_ONLY,
    responses=AUTH_RESPONSES | {404: {"description": "Unknown FC or SKU"}},
)
async def receive_stock(body: ReceiptIn, session: SessionDep, placing: IntakeDep) -> ReceiptPublic:
    """Add received stock, then wake the backordered orders in arrival order."""
    receipt_id = body.receipt_id or f"r-{secrets.token_hex(8)}"
    try:
        recorded = await inventory.receive(
            session, receipt_id, body.fulfilment_centre, body.sku, body.quantity, datetime.now(UTC)
        )
    except inventory.UnknownStockItem as error:
        raise Problem(404, "Unknown stock item", str(error)) from error
    woken, allocated = await receipts.wake_backorders(session, placing.temporal, placing.relay)
    return ReceiptPublic(
        receipt_id=receipt_id,
        recorded=recorded,
        backorders_woken=woken,
        backorders_allocated=allocated,
    )
