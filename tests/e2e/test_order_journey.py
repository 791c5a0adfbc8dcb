"""A customer's journey on the real stack: place, watch it delivered, answer the survey."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from system import RunningSystem, eventually, on_sqlite_and_postgres
from temporalio.client import Client

from store.db import create_engine
from store.models import OrderRow, ParcelRow

pytestmark = on_sqlite_and_postgres

ORDER = {
    "customer_id": "c-42",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
    "lines": [{"sku": "SKU-0001", "quantity": 2}],
}
SURVEY = {"delivery_time": 5, "accuracy": 4, "overall": 5, "comment": "fast"}


def order_with(**changes: Any) -> dict[str, Any]:
    return {**ORDER, **changes}


@pytest.fixture
async def http(fast_system: RunningSystem) -> Any:
    async with fast_system.client() as client:
        yield client


async def delivered(http: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        order: dict[str, Any] = (await http.get(f"/orders/{order_id}")).json()
        return order if order["status"] == "delivered" else None

    return await eventually(probe, within=60, what=f"order {order_id} to be delivered")


async def test_an_order_is_placed_delivered_and_rated(http: httpx.AsyncClient) -> None:
    placed = await http.post("/orders", json=ORDER)

    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert placed.headers["location"] == f"/orders/{order['order_id']}"
    assert order["status"] == "allocated"
    assert order["allocations"] == [
        {
            "fulfilment_centre": "ewr",
            "shipment_id": f"{order['order_id']}-ewr",
            "lines": [{"sku": "SKU-0001", "quantity": 2}],
        }
    ]
    assert "Whole order from ewr" in order["sourcing"]["reason"]
    assert order["promised_delivery_at"] is not None and order["promised_hours"] > 0

    early = await http.post(f"/orders/{order['order_id']}/survey", json=SURVEY)
    final = await delivered(http, order["order_id"])
    assert final["timings"]["fulfilment_hours"] == pytest.approx(
        sum(
            final["timings"][phase] for phase in ("order_hours", "shipping_hours", "delivery_hours")
        ),
        abs=1e-4,  # the sum is reported to 4 decimals
    )
    first = await http.post(f"/orders/{order['order_id']}/survey", json=SURVEY)
    second = await http.post(f"/orders/{order['order_id']}/survey", json=SURVEY)

    assert early.status_code == 409  # placed a moment ago: not delivered yet
    assert first.status_code == 201 and first.json()["overall"] == 5
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"


async def test_the_order_is_kept_in_the_app_database_doms_up_was_given(
    http: httpx.AsyncClient, fast_system: RunningSystem
) -> None:
    order = (await http.post("/orders", json=ORDER)).json()
    await delivered(http, order["order_id"])

    engine = create_engine(fast_system.database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(OrderRow.status, ParcelRow.fc_id, ParcelRow.state)
                .join(ParcelRow, ParcelRow.order_id == OrderRow.order_id)
                .where(OrderRow.order_id == order["order_id"])
            )
            stored = [tuple(row) for row in rows]
    finally:
        await engine.dispose()

    assert stored == [("delivered", "ewr", "shipped")]


async def test_the_temporal_ui_can_find_the_order_by_its_search_attributes(
    http: httpx.AsyncClient, fast_system: RunningSystem
) -> None:
    order = (await http.post("/orders", json=order_with(order_type="expedited"))).json()
    await delivered(http, order["order_id"])
    temporal = await Client.connect(fast_system.temporal_address)
    # `Mode` is also a SQL keyword, so visibility queries quote it.
    query = (
        f'WorkflowId = "order-{order["order_id"]}" AND OrderType = "expedited" '
        'AND OrderStatus = "delivered" AND FulfilmentCentre = "ewr" AND `Mode` = "distributed"'
    )

    async def listed() -> list[str] | None:
        found = [wf.id async for wf in temporal.list_workflows(query)]
        return found or None  # visibility is eventually consistent

    assert await eventually(listed, within=20, what="the workflow in visibility") == [
        f"order-{order['order_id']}"
    ]


async def test_orders_are_listed_newest_first_with_filters_and_a_cursor(
    http: httpx.AsyncClient,
) -> None:
    ids = [
        (await http.post("/orders", json=order_with(customer_id="c-lister"))).json()["order_id"]
        for _ in range(3)
    ]

    first = (await http.get("/orders", params={"customer_id": "c-lister", "limit": 2})).json()
    rest = (
        await http.get(
            "/orders",
            params={"customer_id": "c-lister", "limit": 2, "cursor": first["next_cursor"]},
        )
    ).json()

    listed = [o["order_id"] for o in first["items"]] + [o["order_id"] for o in rest["items"]]
    assert listed == list(reversed(ids))
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order_with(order_type="teleport"), "order_type"),
        (order_with(lines=[{"sku": "SKU-0001", "quantity": 0}]), "lines.0.quantity"),
        (order_with(lines=[{"sku": "SKU-0001", "quantity": -3}]), "lines.0.quantity"),
        (order_with(lines=[]), "lines"),
        (order_with(destination={**ORDER["destination"], "country": "XX"}), "destination.country"),  # type: ignore[dict-item]
        (order_with(destination={**ORDER["destination"], "lat": 123}), "destination.lat"),  # type: ignore[dict-item]
        (order_with(order_type="international"), "order_type"),
        (order_with(status="delivered"), "status"),
        ({k: v for k, v in ORDER.items() if k != "customer_id"}, "customer_id"),
    ],
)
async def test_invalid_orders_get_422_naming_the_field(
    http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await http.post("/orders", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_malformed_json_gets_422_naming_the_body(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/orders", content=b'{"customer_id": ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_an_unknown_sku_gets_409_naming_it(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/orders", json=order_with(lines=[{"sku": "SKU-9999", "quantity": 1}])
    )

    assert response.status_code == 409
    assert response.json()["unknown_skus"] == ["SKU-9999"]


async def test_more_than_any_centre_holds_gets_409_with_the_short_line(
    http: httpx.AsyncClient,
) -> None:
    lines = [{"sku": "SKU-0050", "quantity": 1}, {"sku": "SKU-0051", "quantity": 9000}]
    response = await http.post("/orders", json=order_with(lines=lines))

    assert response.status_code == 409
    assert [s["sku"] for s in response.json()["shortages"]] == ["SKU-0051"]


@pytest.mark.parametrize("rating", [0, 6])
async def test_a_rating_outside_one_to_five_gets_422(http: httpx.AsyncClient, rating: int) -> None:
    order = (await http.post("/orders", json=ORDER)).json()

    response = await http.post(
        f"/orders/{order['order_id']}/survey", json={**SURVEY, "overall": rating}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "overall"


async def test_unknown_orders_get_404_problems(http: httpx.AsyncClient) -> None:
    assert (await http.get("/orders/nope")).status_code == 404
    assert (await http.post("/orders/nope/survey", json=SURVEY)).status_code == 404


async def test_the_api_documents_itself(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()

    assert {"/orders", "/orders/{order_id}", "/orders/{order_id}/survey", "/readyz"} <= set(
        schema["paths"]
    )
    assert (await http.get("/docs")).status_code == 200
