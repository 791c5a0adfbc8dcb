"""The reports API on the real stack: the orders a customer placed, delivered and rated show
up in the three tables, filtered by mode and placement time."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from problem_details import problem
from system import RunningSystem, eventually, fields_named, on_sqlite_and_postgres

pytestmark = on_sqlite_and_postgres

MANHATTAN = {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99}
LONDON = {"country": "GB", "postal_code": "EC1A 1BB", "lat": 51.52, "lon": -0.1}
PLACED = [("standard", MANHATTAN), ("standard", MANHATTAN), ("expedited", MANHATTAN)]
PLACED += [("international", LONDON)]
RATINGS = {"delivery_time": 5, "accuracy": 4, "overall": 3}
HOURS = ("order_hours", "shipping_hours", "delivery_hours", "fulfilment_hours")


@pytest.fixture(scope="module")
async def http(fast_system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with fast_system.client() as client:
        yield client


async def delivered(http: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        order: dict[str, Any] = (await http.get(f"/orders/{order_id}")).json()
        return order if order["status"] == "delivered" else None

    return await eventually(probe, within=60, what=f"order {order_id} to be delivered")


@pytest.fixture(scope="module")
async def rated_orders(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Orders of each type, placed, delivered and rated; as GET /orders shows them."""
    placed = []
    for order_type, destination in PLACED:
        body = {
            "customer_id": "c-reports",
            "order_type": order_type,
            "destination": destination,
            "lines": [{"sku": "SKU-0001", "quantity": 1}],
        }
        response = await http.post("/orders", json=body)
        assert response.status_code == 201, response.text
        placed.append(response.json())
    orders = [await delivered(http, order["order_id"]) for order in placed]
    for order in orders:
        answer = await http.post(f"/orders/{order['order_id']}/survey", json=RATINGS)
        assert answer.status_code == 201, answer.text
    return orders


def window_of(orders: list[dict[str, Any]], **extra: str) -> dict[str, str]:
    """Query parameters selecting exactly these orders by their placement time."""
    times = sorted(order["placed_at"] for order in orders)
    return {"since": times[0], "until": times[-1], **extra}


async def report(http: httpx.AsyncClient, name: str, **params: str) -> dict[str, Any]:
    response = await http.get(f"/reports/{name}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_performance_counts_the_placed_orders_and_their_rate(
    http: httpx.AsyncClient, rated_orders: list[dict[str, Any]]
) -> None:
    everything = await report(http, "performance")
    mine = await report(http, "performance", **window_of(rated_orders))

    assert everything["total"]["placed"] >= len(rated_orders)
    assert everything["total"]["by_status"]["delivered"] >= len(rated_orders)
    [distributed] = mine["modes"]
    assert distributed["mode"] == "distributed"
    assert distributed["placed"] == len(rated_orders)
    assert distributed["by_status"] == {"delivered": len(rated_orders)}
    assert distributed["seconds"] > 0
    assert distributed["orders_per_second"] > 0
    assert distributed["orders_per_hour"] == pytest.approx(distributed["orders_per_second"] * 3600)


async def test_fulfilment_reports_the_delivered_orders_phases_per_type(
    http: httpx.AsyncClient, rated_orders: list[dict[str, Any]]
) -> None:
    body = await report(http, "fulfilment", **window_of(rated_orders))

    counts = {group["order_type"]: group["delivered"] for group in body["groups"]}
    assert counts == {"standard": 2, "expedited": 1, "international": 1}
    for times in [*body["groups"], body["total"]]:
        assert all(math.isfinite(times[hours]) and times[hours] >= 0 for hours in HOURS)
        assert times["fulfilment_hours"] == pytest.approx(
            times["order_hours"] + times["shipping_hours"] + times["delivery_hours"]
        )
        assert times["p50_fulfilment_hours"] <= times["p95_fulfilment_hours"]
    mean = sum(order["timings"]["fulfilment_hours"] for order in rated_orders) / len(rated_orders)
    assert body["total"]["fulfilment_hours"] == pytest.approx(mean, abs=1e-3)


async def test_satisfaction_reports_the_answered_surveys_per_type(
    http: httpx.AsyncClient, rated_orders: list[dict[str, Any]]
) -> None:
    everything = await report(http, "satisfaction")
    body = await report(http, "satisfaction", **window_of(rated_orders))

    assert everything["headline"] == "satisfaction"
    assert everything["total"]["surveys"] >= len(rated_orders)
    assert 1 <= everything["total"]["satisfaction"] <= 5
    assert body["total"]["surveys"] == len(rated_orders)
    for scores in body["groups"]:
        assert (scores["mode"], scores["delivery_time"], scores["overall"]) == ("distributed", 5, 3)
        assert scores["satisfaction"] == pytest.approx(4.0)


async def test_reports_filter_by_mode(
    http: httpx.AsyncClient, rated_orders: list[dict[str, Any]]
) -> None:
    for name in ("performance", "fulfilment", "satisfaction"):
        centralized = await report(http, name, mode="centralized")
        distributed = await report(http, name, mode="distributed")

        assert centralized["window"]["mode"] == "centralized"
        assert centralized.get("modes", centralized.get("groups")) == []
        rows = distributed.get("modes", distributed.get("groups"))
        assert rows and {row["mode"] for row in rows} == {"distributed"}


async def test_a_window_ending_before_it_starts_is_a_problem_naming_since(
    http: httpx.AsyncClient,
) -> None:
    params = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    for name in ("performance", "fulfilment", "satisfaction"):
        response = await http.get(f"/reports/{name}", params=params)

        assert fields_named(response) == ["since"]


async def test_an_unknown_mode_or_a_malformed_time_is_a_problem_naming_the_field(
    http: httpx.AsyncClient,
) -> None:
    unknown_mode = await http.get("/reports/fulfilment", params={"mode": "regional"})
    bad_time = await http.get("/reports/satisfaction", params={"until": "yesterday"})

    assert fields_named(unknown_mode) == ["mode"]
    assert fields_named(bad_time) == ["until"]
    assert "mode" in problem(unknown_mode, 422)["detail"]
