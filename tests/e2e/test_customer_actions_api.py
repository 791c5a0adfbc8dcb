"""A customer changes their mind over HTTP: cancel, or ship elsewhere, until dispatch.

Acting before dispatch needs time to act: these tests run on a system at speedup 60,
where an order waits about a simulated hour (a real minute) in its FC. Acting after
dispatch runs on the fast system, with an order whose transit lasts several seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from problem_details import problem
from system import RunningSystem, fields_named, order_in_status, stock_of

NEW_YORK = {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99}
SEATTLE = {"country": "US", "postal_code": "98101", "lat": 47.61, "lon": -122.33}
BERLIN = {"country": "DE", "postal_code": "10115", "lat": 52.52, "lon": 13.40}
# Thousands of kilometres from any FC: a standard parcel is in transit for ~49 simulated
# hours, about 5 real seconds on the fast system, so it stays `shipped` long enough to act.
HONOLULU = {"country": "US", "postal_code": "96813", "lat": 21.31, "lon": -157.86}


def order_of(sku: str, quantity: int, destination: dict[str, Any] = NEW_YORK) -> dict[str, Any]:
    return {
        "customer_id": "c-actions",
        "order_type": "standard",
        "destination": destination,
        "lines": [{"sku": sku, "quantity": quantity}],
    }


@pytest.fixture
async def http(slow_system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with slow_system.client() as client:
        yield client


@pytest.fixture
async def fast_http(fast_system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with fast_system.client() as client:
        yield client


async def place(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/orders", json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def test_a_cancelled_order_gives_its_stock_back_and_shows_the_reason(
    http: httpx.AsyncClient,
) -> None:
    before = await stock_of(http, "ewr", "SKU-0040")
    order = await place(http, order_of("SKU-0040", 4))
    reserved = await stock_of(http, "ewr", "SKU-0040")

    response = await http.post(
        f"/orders/{order['order_id']}/cancel", json={"reason": "found it cheaper"}
    )

    assert reserved["reserved"] == before["reserved"] + 4
    assert response.status_code == 200, response.text
    assert response.json() == {
        "order_id": order["order_id"],
        "status": "cancelled",
        "reason": "found it cheaper",
    }
    assert await stock_of(http, "ewr", "SKU-0040") == before
    shown = (await http.get(f"/orders/{order['order_id']}")).json()
    assert shown["status"] == "cancelled"
    assert shown["failure_reason"] == "found it cheaper"


async def test_a_cancel_without_a_body_uses_a_default_reason(http: httpx.AsyncClient) -> None:
    order = await place(http, order_of("SKU-0041", 1))

    response = await http.post(f"/orders/{order['order_id']}/cancel")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["reason"]


async def test_cancelling_twice_gets_409_and_changes_nothing(http: httpx.AsyncClient) -> None:
    before = await stock_of(http, "ewr", "SKU-0042")
    order = await place(http, order_of("SKU-0042", 2))
    first = await http.post(f"/orders/{order['order_id']}/cancel")

    second = await http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "again"})

    assert first.status_code == 200
    assert "cancelled" in problem(second, 409)["detail"] or "ended" in second.json()["detail"]
    assert await stock_of(http, "ewr", "SKU-0042") == before  # released once, not twice
    shown = (await http.get(f"/orders/{order['order_id']}")).json()
    assert (shown["status"], shown["failure_reason"]) == ("cancelled", "cancelled by the customer")


async def test_a_new_destination_re_sources_the_order_and_moves_its_stock(
    http: httpx.AsyncClient,
) -> None:
    ewr_before = await stock_of(http, "ewr", "SKU-0043")
    sea_before = await stock_of(http, "sea", "SKU-0043")
    order = await place(http, order_of("SKU-0043", 3))
    assert [a["fulfilment_centre"] for a in order["allocations"]] == ["ewr"]

    response = await http.patch(f"/orders/{order['order_id']}/destination", json=SEATTLE)

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["status"] == "allocated"
    assert changed["destination"] == SEATTLE
    assert changed["allocations"] == [
        {
            "fulfilment_centre": "sea",
            "shipment_id": f"{order['order_id']}-sea",
            "lines": [{"sku": "SKU-0043", "quantity": 3}],
        }
    ]
    assert await stock_of(http, "ewr", "SKU-0043") == ewr_before
    sea = await stock_of(http, "sea", "SKU-0043")
    assert (sea["available"], sea["reserved"]) == (
        sea_before["available"] - 3,
        sea_before["reserved"] + 3,
    )
    shown = (await http.get(f"/orders/{order['order_id']}")).json()
    assert shown["destination"] == SEATTLE
    assert [a["fulfilment_centre"] for a in shown["allocations"]] == ["sea"]
    assert "sea" in shown["sourcing"]["reason"]


async def test_a_destination_the_order_type_cannot_reach_gets_422_naming_country(
    http: httpx.AsyncClient,
) -> None:
    before = await stock_of(http, "ewr", "SKU-0044")
    order = await place(http, order_of("SKU-0044", 1))

    response = await http.patch(f"/orders/{order['order_id']}/destination", json=BERLIN)

    assert fields_named(response) == ["country"]
    assert "international" in response.json()["detail"]
    shown = (await http.get(f"/orders/{order['order_id']}")).json()
    assert (shown["status"], shown["destination"]) == ("allocated", NEW_YORK)
    ewr = await stock_of(http, "ewr", "SKU-0044")
    assert ewr["reserved"] == before["reserved"] + 1


@pytest.mark.parametrize(
    ("change", "field"),
    [({"lat": 91}, "lat"), ({"country": "XX"}, "country"), ({"planet": "Mars"}, "planet")],
)
async def test_an_invalid_destination_gets_422_naming_the_field(
    http: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    order = await place(http, order_of("SKU-0045", 1))

    response = await http.patch(
        f"/orders/{order['order_id']}/destination", json={**SEATTLE, **change}
    )

    assert field in fields_named(response)


async def test_a_cancelled_order_cannot_change_destination(http: httpx.AsyncClient) -> None:
    order = await place(http, order_of("SKU-0046", 1))
    assert (await http.post(f"/orders/{order['order_id']}/cancel")).status_code == 200

    response = await http.patch(f"/orders/{order['order_id']}/destination", json=SEATTLE)

    problem(response, 409)
    assert (await http.get(f"/orders/{order['order_id']}")).json()["destination"] == NEW_YORK


async def test_actions_on_an_unknown_order_get_404(http: httpx.AsyncClient) -> None:
    problem(await http.post("/orders/no-such-order/cancel"), 404)
    problem(await http.patch("/orders/no-such-order/destination", json=SEATTLE), 404)


async def test_after_dispatch_cancel_and_new_destination_get_409_saying_so(
    fast_http: httpx.AsyncClient,
) -> None:
    order = await place(fast_http, order_of("SKU-0047", 1, destination=HONOLULU))
    await order_in_status(fast_http, order["order_id"], "shipped")
    centre = order["allocations"][0]["fulfilment_centre"]

    cancel = await fast_http.post(f"/orders/{order['order_id']}/cancel")
    move = await fast_http.patch(f"/orders/{order['order_id']}/destination", json=SEATTLE)

    assert "dispatched" in problem(cancel, 409)["detail"]
    assert "dispatched" in problem(move, 409)["detail"]
    stock = await stock_of(fast_http, centre, "SKU-0047")
    assert stock["shipped"] == 1 and stock["reserved"] == 0  # nothing went back
    await order_in_status(fast_http, order["order_id"], "delivered")  # and it still arrives
