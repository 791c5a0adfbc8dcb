"""A real carrier moves the parcels (DOMS_CARRIER=events): its events drive the order over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from problem_details import problem
from system import RunningSystem, fields_named, order_in_status, running_system, stock_of

NEW_YORK = {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99}


def order_of(sku: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "customer_id": "c-carrier",
        "order_type": "standard",
        "destination": NEW_YORK,
        "lines": [{"sku": sku, "quantity": quantity}],
    }


@pytest.fixture(scope="module")
async def carrier_system(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningSystem]:
    var_dir = tmp_path_factory.mktemp("doms-carrier")
    async with running_system(var_dir, speedup=3600, DOMS_CARRIER="events") as system:
        yield system


@pytest.fixture
async def http(carrier_system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with carrier_system.client() as client:
        yield client


async def place(http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[str, str]:
    """Place an order; its id and the shipment id of its one parcel."""
    response = await http.post("/orders", json=body)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "allocated"
    [allocation] = order["allocations"]
    return order["order_id"], allocation["shipment_id"]


async def post_event(
    http: httpx.AsyncClient, shipment_id: str, kind: str, **more: Any
) -> httpx.Response:
    return await http.post(f"/shipments/{shipment_id}/events", json={"kind": kind, **more})


async def test_carrier_events_move_an_order_from_allocated_to_shipped_to_delivered(
    http: httpx.AsyncClient,
) -> None:
    before = await stock_of(http, "ewr", "SKU-0035")
    order_id, shipment_id = await place(http, order_of("SKU-0035", 2))
    assert shipment_id == f"{order_id}-ewr"

    too_early = await post_event(http, shipment_id, "delivered")

    assert "not been dispatched" in problem(too_early, 409)["detail"]
    assert (await http.get(f"/orders/{order_id}")).json()["status"] == "allocated"

    dispatched = await post_event(http, shipment_id, "dispatched")

    assert dispatched.status_code == 202, dispatched.text
    assert dispatched.json() == {
        "shipment_id": shipment_id,
        "kind": "dispatched",
        "status": "accepted",
    }
    shipped = await order_in_status(http, order_id, "shipped")
    assert shipped["timings"]["shipping_hours"] is not None
    assert shipped["timings"]["delivery_hours"] is None
    ewr = await stock_of(http, "ewr", "SKU-0035")
    assert (ewr["reserved"], ewr["shipped"]) == (before["reserved"], before["shipped"] + 2)
    # Without a carrier timer the order waits for the carrier, however long that takes.
    assert (await http.get(f"/orders/{order_id}")).json()["status"] == "shipped"

    delivered = await post_event(http, shipment_id, "delivered")

    assert delivered.status_code == 202, delivered.text
    final = await order_in_status(http, order_id, "delivered")
    timings = final["timings"]
    assert timings["delivery_hours"] is not None and timings["delivery_hours"] >= 0
    assert timings["fulfilment_hours"] == pytest.approx(
        timings["order_hours"] + timings["shipping_hours"] + timings["delivery_hours"], abs=1e-3
    )
    # The order has ended: a late event is refused, not lost in a 500 or a 404.
    problem(await post_event(http, shipment_id, "delivered"), 409)


async def test_a_carrier_exception_fails_the_order_and_releases_its_stock(
    http: httpx.AsyncClient,
) -> None:
    before = await stock_of(http, "ewr", "SKU-0036")
    order_id, shipment_id = await place(http, order_of("SKU-0036", 3))
    assert (await stock_of(http, "ewr", "SKU-0036"))["reserved"] == before["reserved"] + 3

    response = await post_event(http, shipment_id, "exception", detail="van caught fire")

    assert response.status_code == 202, response.text
    failed = await order_in_status(http, order_id, "failed")
    assert "van caught fire" in failed["failure_reason"]
    assert await stock_of(http, "ewr", "SKU-0036") == before
    problem(await http.post(f"/orders/{order_id}/cancel"), 409)


async def test_an_event_for_an_unknown_shipment_gets_404(http: httpx.AsyncClient) -> None:
    problem(await post_event(http, "0123456789ab0123456789ab-ewr", "dispatched"), 404)
    problem(await post_event(http, "no-centre-suffix", "dispatched"), 404)
    problem(await post_event(http, "nodash", "dispatched"), 404)


async def test_an_event_for_a_centre_that_does_not_ship_the_order_gets_404(
    http: httpx.AsyncClient,
) -> None:
    order_id, _ = await place(http, order_of("SKU-0037"))

    response = await post_event(http, f"{order_id}-sea", "dispatched")

    assert f"{order_id}-sea" in problem(response, 404)["detail"]
    assert (await http.get(f"/orders/{order_id}")).json()["status"] == "allocated"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "teleported"}, "kind"),
        ({"kind": None}, "kind"),
        ({}, "kind"),
        ({"kind": "dispatched", "at": "yesterday"}, "at"),
        ({"kind": "dispatched", "by": "owl"}, "by"),
    ],
)
async def test_a_malformed_event_gets_422_naming_the_field(
    http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    order_id, shipment_id = await place(http, order_of("SKU-0038"))

    response = await http.post(f"/shipments/{shipment_id}/events", json=body)

    assert field in fields_named(response)
    assert (await http.get(f"/orders/{order_id}")).json()["status"] == "allocated"


async def test_a_simulated_carrier_refuses_carrier_events_with_409(
    fast_system: RunningSystem,
) -> None:
    async with fast_system.client() as http:
        order_id, shipment_id = await place(http, order_of("SKU-0039"))

        response = await post_event(http, shipment_id, "delivered")

        assert "simulated" in problem(response, 409)["detail"]
        await order_in_status(http, order_id, "delivered")  # its own timers deliver it
