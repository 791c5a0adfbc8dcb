"""Placing an order: validate what the schema cannot, place it, map the answer to HTTP.

The placing service (placing/service.py) sources the order and reserves its stock in the app
database, with the start of its workflow queued in the same transaction (an outbox); the
relay (`doms relay`) starts the workflow, with the placement in its input. The answer waits
on the database only, never on Temporal.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.faults import CrashPoint
from activities.messages import OrderRequest, Placement, request_from_json
from api.problems import Problem, invalid_field
from api.schemas import DestinationIn, OrderCreate
from api.views import order_from_placement
from domain.orders import Destination, OrderLine, OrderStatus, OrderType, destination_error
from doms.settings import Settings
from observability.trace_context import current_traceparent
from placing.service import Placing, StartTerms
from store.idempotency import IdempotencyKey, PlacedOrder, StoredAnswer
from workflows.relay import OutboxRelay


def new_order_id() -> str:
    """Time-ordered (milliseconds, then randomness), so sorting by id sorts by placement."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def order_request(body: OrderCreate, settings: Settings) -> OrderRequest:
    return OrderRequest(
        order_id=new_order_id(),
        customer_id=body.customer_id,
        order_type=body.order_type,
        destination=destination_for(body.order_type, body.destination, field="destination"),
        lines=[OrderLine(line.sku, line.quantity) for line in body.lines],
        mode=settings.mode,
        speedup=settings.speedup,
        backorder_hours=body.backorder.max_wait_hours if body.backorder else None,
        carrier=settings.carrier,
        simulated_delays=settings.simulated_delays,
    )


def destination_for(order_type: OrderType, body: DestinationIn, field: str = "") -> Destination:
    """The destination, if this order type may ship there (422 naming the field if not)."""
    if error := destination_error(order_type, body.country):
        # A new destination for a placed order: its type is settled, the country is at fault.
        blame_country = "country" in error or not field
        prefix = f"{field}." if field else ""
        raise invalid_field(f"{prefix}country" if blame_country else "order_type", error)
    return Destination(body.country, body.postal_code, body.lat, body.lon)


def order_location(order_id: str) -> str:
    return f"/orders/{order_id}"


def answer_to(request: OrderRequest, placement: Placement, trace_id: str | None) -> StoredAnswer:
    """What POST /orders answers for a placement: 201 with the order, or its problem."""
    problem = problem_of(placement)
    if problem is not None:
        return StoredAnswer(problem.status, problem.body())
    order = order_from_placement(request, placement, trace_id)
    return StoredAnswer(201, order.model_dump(mode="json"), order_location(request.order_id))


def answer_of(placed: PlacedOrder) -> StoredAnswer:
    """The answer to an order placed under an Idempotency-Key, as its first request gave it."""
    request = request_from_json(dict(placed.order))
    assert request.placement is not None, "an order placed under a key records its placement"
    return answer_to(request, request.placement, placed.trace_id)


def is_final(status_code: int) -> bool:
    """Replayed to a retry with the same key; a server failure (5xx) is retried instead."""
    return status_code < 500


@dataclasses.dataclass(frozen=True)
class Intake:
    settings: Settings
    temporal: Client
    placing: Placing
    relay: OutboxRelay  # not running: starts an order now when an action on it cannot wait
    sessions: async_sessionmaker[AsyncSession]
    # A testing fault (activities/faults.py): dies between committing and answering.
    crash_after_accept: CrashPoint = dataclasses.field(default_factory=lambda: CrashPoint(None))

    async def place(self, request: OrderRequest, key: IdempotencyKey | None = None) -> Placement:
        """The sourcing decision for a new order, or a problem (409 cannot be served).

        With an Idempotency-Key, the order's own transaction records it as the key's answer.
        """
        at = datetime.now(UTC)
        request = dataclasses.replace(request, placed_at=at)
        # The relay starts the workflow in this request's trace (workflows/relay.py).
        start = StartTerms(current_traceparent())
        placement = await self.placing.place(request, at, start=start, key=key)
        self.crash_after_accept.reached()  # committed, not yet answered
        if problem := problem_of(placement):
            raise problem
        return placement


def problem_of(placement: Placement) -> Problem | None:
    """The problem a placement answers with: 409 cannot be served, 503 sourcing failed."""
    if placement.status is OrderStatus.REJECTED:
        return Problem(
            409,
            "Order cannot be served",
            placement.reason or "rejected",
            order_id=placement.order_id,
            shortages=[
                {"sku": s.sku, "requested": s.requested, "available": s.available}
                for s in placement.shortages
            ],
            unknown_skus=placement.unknown_skus,
        )
    if placement.status not in (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED):
        return Problem(503, "Order service unavailable", placement.reason or "allocation failed")
    return None
