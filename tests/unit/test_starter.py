"""The relay starts a workflow with the outbox's JSON text as its input, not decoded and
encoded again: that text must be what Temporal's converter makes of the OrderRequest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from activities.messages import Allocation, OrderRequest, Placement, request_to_json
from domain.orders import CarrierMode, Destination, Mode, OrderLine, OrderStatus, OrderType
from domain.sourcing import Shortage
from workflows.search_attributes import FULFILMENT_CENTRE, MODE, ORDER_STATUS, ORDER_TYPE
from workflows.starter import JSON_PLAIN, search_attributes_of

AT = datetime(2026, 12, 8, 4, 50, 44, 123456, tzinfo=UTC)


def placed(status: OrderStatus = OrderStatus.ALLOCATED) -> OrderRequest:
    return OrderRequest(
        order_id="0193abc",
        customer_id="c-1",
        order_type=OrderType.EXPEDITED,
        destination=Destination("US", "10001", 40.75, -73.99),
        lines=[OrderLine("SKU-0001", 2), OrderLine("SKU-0002", 1)],
        mode=Mode.HYBRID,
        speedup=36000.0,
        backorder_hours=12.5,
        carrier=CarrierMode.EVENTS,
        simulated_delays=False,
        placed_at=AT,
        placement=Placement(
            order_id="0193abc",
            status=status,
            placed_at=AT,
            allocations=[
                Allocation("sea", [OrderLine("SKU-0002", 1)], 12.0, 1.5, 20.0),
                Allocation("ewr", [OrderLine("SKU-0001", 2)], 3.25, 1.0, 6.0),
            ],
            allocated_at=AT + timedelta(milliseconds=3),
            order_hours=0.01,
            promised_hours=48.0,
            promised_delivery_at=AT + timedelta(hours=48),
            shortages=[Shortage("SKU-0003", 4, 1)],
            sourcing={"split": True, "km": [12.0, 3.25]},
        ),
    )


async def test_the_stored_json_decodes_to_the_order_request_it_was_made_of() -> None:
    request = placed()
    stored = json.dumps(request_to_json(request))  # as the outbox keeps it
    payload = Payload(metadata=JSON_PLAIN, data=stored.encode())

    [decoded] = await DataConverter.default.decode([payload], [OrderRequest])

    assert decoded == request


def test_search_attributes_come_from_the_stored_json() -> None:
    attributes = search_attributes_of(request_to_json(placed()))

    assert attributes.get(ORDER_TYPE) == "expedited"
    assert attributes.get(MODE) == "hybrid"
    assert attributes.get(ORDER_STATUS) == "allocated"
    assert attributes.get(FULFILMENT_CENTRE) == ["ewr", "sea"]


def test_a_backorder_starts_with_no_centre() -> None:
    request = placed(OrderStatus.BACKORDERED)
    data = request_to_json(request)
    data["placement"]["allocations"] = []

    attributes = search_attributes_of(data)

    assert attributes.get(ORDER_STATUS) == "backordered"
    assert attributes.get(FULFILMENT_CENTRE) is None
