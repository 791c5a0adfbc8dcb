"""Backorders over HTTP: an order that may wait for stock waits, and a receipt wakes it.

Every domestic regional FC starts with 500 units of each popular SKU (SKU-0020 to
SKU-0026 among them), so 600 units of one is more than any FC can ship alone (each SKU
of an order comes from one FC). The system runs
at speedup 60 so that nothing dispatches while a test looks at its stock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from problem_details import problem
from system import RunningSystem, order_in_status, stock_of

NEW_YORK = {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99}
REGIONAL_STOCK = 500


def order_of(sku: str, quantity: int, wait_hours: float | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": "c-patient",
        "order_type": "standard",
        "destination": NEW_YORK,
        "lines": [{"sku": sku, "quantity": quantity}],
    }
    if wait_hours is not None:
        body["backorder"] = {"max_wait_hours": wait_hours}
    return body


@pytest.fixture
async def http(slow_system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with slow_system.client() as client:
        yield client


async def receive(http: httpx.AsyncClient, centre: str, sku: str, units: int) -> dict[str, Any]:
    response = await http.post(
        "/inventory/receipts", json={"fulfilment_centre": centre, "sku": sku, "quantity": units}
    )
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


async def test_an_order_that_may_wait_is_backordered_then_allocated_by_a_receipt(
    http: httpx.AsyncClient,
) -> None:
    placed = await http.post("/orders", json=order_of("SKU-0020", 600, wait_hours=48))

    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert placed.headers["location"] == f"/orders/{order['order_id']}"
    assert (order["status"], order["allocations"]) == ("backordered", [])
    shown = (await http.get(f"/orders/{order['order_id']}")).json()
    assert (shown["status"], shown["allocations"]) == ("backordered", [])
    assert (await stock_of(http, "ewr", "SKU-0020"))["reserved"] == 0  # nothing held yet

    receipt = await receive(http, "ewr", "SKU-0020", 100)

    assert receipt["recorded"] is True
    assert order["order_id"] in receipt["backorders_allocated"]
    allocated = (await http.get(f"/orders/{order['order_id']}")).json()
    assert allocated["status"] == "allocated"
    assert allocated["allocations"] == [
        {
            "fulfilment_centre": "ewr",
            "shipment_id": f"{order['order_id']}-ewr",
            "lines": [{"sku": "SKU-0020", "quantity": 600}],
        }
    ]
    assert allocated["promised_delivery_at"] is not None
    ewr = await stock_of(http, "ewr", "SKU-0020")
    assert (ewr["on_hand"], ewr["available"], ewr["reserved"]) == (600, 0, 600)


async def test_a_receipt_enough_for_one_backorder_serves_the_older_one(
    http: httpx.AsyncClient,
) -> None:
    older = (await http.post("/orders", json=order_of("SKU-0021", 600, wait_hours=48))).json()
    newer = (await http.post("/orders", json=order_of("SKU-0021", 600, wait_hours=48))).json()
    assert [older["status"], newer["status"]] == ["backordered", "backordered"]

    receipt = await receive(http, "ewr", "SKU-0021", 100)

    assert older["order_id"] in receipt["backorders_allocated"]
    assert newer["order_id"] not in receipt["backorders_allocated"]
    assert receipt["backorders_woken"] >= 2
    assert (await http.get(f"/orders/{older['order_id']}")).json()["status"] == "allocated"
    assert (await http.get(f"/orders/{newer['order_id']}")).json()["status"] == "backordered"
    ewr = await stock_of(http, "ewr", "SKU-0021")
    assert (ewr["available"], ewr["reserved"]) == (0, 600)

    # The next receipt that suffices serves the one still waiting.
    second = await receive(http, "ord", "SKU-0021", 100)

    assert newer["order_id"] in second["backorders_allocated"]
    now = (await http.get(f"/orders/{newer['order_id']}")).json()
    assert [a["fulfilment_centre"] for a in now["allocations"]] == ["ord"]


async def test_a_receipt_too_small_leaves_the_order_waiting(http: httpx.AsyncClient) -> None:
    order = (await http.post("/orders", json=order_of("SKU-0023", 600, wait_hours=48))).json()

    receipt = await receive(http, "ewr", "SKU-0023", 99)  # 599 < 600

    assert order["order_id"] not in receipt["backorders_allocated"]
    assert (await http.get(f"/orders/{order['order_id']}")).json()["status"] == "backordered"
    ewr = await stock_of(http, "ewr", "SKU-0023")
    assert (ewr["available"], ewr["reserved"]) == (599, 0)


async def test_a_backordered_order_can_be_cancelled(http: httpx.AsyncClient) -> None:
    order = (await http.post("/orders", json=order_of("SKU-0024", 600, wait_hours=48))).json()

    response = await http.post(f"/orders/{order['order_id']}/cancel")
    receipt = await receive(http, "ewr", "SKU-0024", 100)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert order["order_id"] not in receipt["backorders_allocated"]
    assert (await stock_of(http, "ewr", "SKU-0024"))["available"] == REGIONAL_STOCK + 100


async def test_a_backorder_whose_wait_expires_is_cancelled_with_a_reason(
    http: httpx.AsyncClient,
) -> None:
    # 0.02 simulated hours is 1.2 real seconds at speedup 60.
    order = (await http.post("/orders", json=order_of("SKU-0025", 600, wait_hours=0.02))).json()
    assert order["status"] == "backordered"

    cancelled = await order_in_status(http, order["order_id"], "cancelled", within=30)

    assert "no stock arrived" in cancelled["failure_reason"]
    receipt = await receive(http, "ewr", "SKU-0025", 100)
    assert order["order_id"] not in receipt["backorders_allocated"]
    assert (await stock_of(http, "ewr", "SKU-0025"))["reserved"] == 0


async def test_without_backorder_more_than_any_fc_holds_gets_409_with_the_shortage(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/orders", json=order_of("SKU-0022", 600, wait_hours=None))

    body = problem(response, 409)
    assert body["shortages"] == [{"sku": "SKU-0022", "requested": 600, "available": REGIONAL_STOCK}]
    assert (await stock_of(http, "ewr", "SKU-0022"))["available"] == REGIONAL_STOCK


@pytest.mark.parametrize("wait", [0, -1, 721, "long"])
async def test_an_invalid_wait_gets_422_naming_it(http: httpx.AsyncClient, wait: Any) -> None:
    body = {**order_of("SKU-0026", 1, None), "backorder": {"max_wait_hours": wait}}

    response = await http.post("/orders", json=body)

    assert "backorder.max_wait_hours" in [e["field"] for e in problem(response, 422)["errors"]]
