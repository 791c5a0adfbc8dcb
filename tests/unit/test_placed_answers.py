"""The answer POST /orders replays for an Idempotency-Key is rendered from the order placed
under it, as the key recorded it (JSON in the database): byte for byte the first answer."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.responses import JSONResponse

from activities.messages import Allocation, OrderRequest, Placement, request_to_json
from api.intake import answer_of, answer_to
from domain.network_spec import default_network_spec
from domain.orders import Destination, Mode, OrderLine, OrderStatus, OrderType
from domain.sourcing import Shortage, source
from store.idempotency import PlacedOrder, StoredAnswer

MANHATTAN = Destination("US", "10001", 40.75, -73.99)
LINES = [OrderLine("SKU-0001", 2), OrderLine("SKU-0002", 1)]
PLACED_AT = datetime(2026, 12, 8, 9, 30, 15, 123456, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REQUEST = OrderRequest(
    order_id="0193a0c1b2c3d4e5f6a7b8c9",
    customer_id="c-42",
    order_type=OrderType.EXPEDITED,
    destination=MANHATTAN,
    lines=LINES,
    mode=Mode.DISTRIBUTED,
    speedup=3600.0,
    placed_at=PLACED_AT,
)
SOURCED = source(
    default_network_spec(),
    Mode.DISTRIBUTED,
    OrderType.EXPEDITED,
    MANHATTAN,
    LINES,
    {("ewr", "SKU-0001"): 2, ("ord", "SKU-0002"): 7},
    {"ewr": 3, "ord": 0},
)
ALLOCATED = Placement(
    REQUEST.order_id,
    OrderStatus.ALLOCATED,
    PLACED_AT,
    [
        Allocation("ewr", [LINES[0]], 14.2, 1.0 / 3, 0.1 + 0.2),
        Allocation("ord", [LINES[1]], 1140.7, 2.5, 19.75),
    ],
    allocated_at=PLACED_AT + timedelta(microseconds=861),
    order_hours=0.000_239_166_666_666_666_67,
    promised_hours=21.0,
    promised_delivery_at=PLACED_AT + timedelta(seconds=21),
    sourcing=SOURCED.as_dict(),
)
BACKORDERED = Placement(
    REQUEST.order_id,
    OrderStatus.BACKORDERED,
    PLACED_AT,
    reason="no centre holds every line — short of SKU-0002",
    shortages=[Shortage("SKU-0002", 5, 1)],
    sourcing=SOURCED.as_dict(),
    backorder_until=PLACED_AT + timedelta(hours=48),
)
REJECTED = dataclasses.replace(
    BACKORDERED, status=OrderStatus.REJECTED, unknown_skus=["SKU-9999"], backorder_until=None
)


def recorded(placement: Placement, trace_id: str | None) -> PlacedOrder:
    """The order as the key records it, and reads it back, from a JSON column."""
    order = request_to_json(dataclasses.replace(REQUEST, placement=placement))
    return PlacedOrder(json.loads(json.dumps(order)), trace_id)


def sent(answer: StoredAnswer) -> bytes:
    return bytes(JSONResponse(answer.body, answer.status_code).body)


@pytest.mark.parametrize("placement", [ALLOCATED, BACKORDERED, REJECTED], ids=lambda p: p.status)
@pytest.mark.parametrize("trace_id", [TRACE, None], ids=["traced", "untraced"])
def test_the_replayed_answer_is_the_first_byte_for_byte(
    placement: Placement, trace_id: str | None
) -> None:
    first = answer_to(REQUEST, placement, trace_id)

    replayed = answer_of(recorded(placement, trace_id))

    assert (replayed.status_code, replayed.location) == (first.status_code, first.location)
    assert sent(replayed) == sent(first)


def test_a_placed_order_answers_201_with_its_location_and_a_rejected_one_409() -> None:
    allocated = answer_of(recorded(ALLOCATED, TRACE))
    rejected = answer_of(recorded(REJECTED, None))

    assert (allocated.status_code, allocated.location) == (201, f"/orders/{REQUEST.order_id}")
    assert allocated.body["trace_id"] == TRACE
    assert (rejected.status_code, rejected.location) == (409, None)
    assert rejected.body["unknown_skus"] == ["SKU-9999"]
