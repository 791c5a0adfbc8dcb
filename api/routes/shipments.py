"""Carrier events for shipments, when a real carrier (DOMS_CARRIER=events) moves the parcels."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from activities.messages import CarrierEvent, CarrierEventKind
from api.actions import ask_order
from api.auth import AUTH_RESPONSES, CARRIERS_AND_OPERATORS
from api.deps import IntakeDep, SessionDep
from api.problems import Problem
from api.schemas import CarrierEventIn, Identifier
from store import queries
from workflows.order import OrderWorkflow

router = APIRouter(
    prefix="/shipments",
    tags=["carriers"],
    dependencies=CARRIERS_AND_OPERATORS,
    responses=AUTH_RESPONSES,
)


@router.post(
    "/{shipment_id}/events",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {"description": "No such shipment"}, 409: {"description": "Out of order"}},
)
async def post_carrier_event(
    shipment_id: Identifier, body: CarrierEventIn, session: SessionDep, placing: IntakeDep
) -> dict[str, str]:
    """Dispatched, delivered or exception: passed to the order's workflow."""
    order_id, _, centre = shipment_id.partition("-")
    order = await queries.get_order(session, order_id) if centre else None
    if order is None or centre not in order.allocations:  # no such order, or not from there
        raise Problem(404, "Shipment not found", f"no shipment {shipment_id}")
    event = CarrierEvent(
        shipment_id, CarrierEventKind(body.kind), body.at or datetime.now(UTC), body.detail
    )
    await ask_order(
        placing.temporal,
        order_id,
        lambda order: order.execute_update(OrderWorkflow.carrier_event, event),
        refused="Carrier event refused",
        relay=placing.relay,
    )
    return {"shipment_id": shipment_id, "kind": body.kind, "status": "accepted"}
