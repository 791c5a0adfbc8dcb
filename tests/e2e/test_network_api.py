"""The fulfilment network over HTTP: its centres, their stock, and stock receipts."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from problem_details import problem
from system import RunningSystem, eventually, fields_named, on_sqlite_and_postgres, stock_of

from doms.network_file import load_network_spec

pytestmark = on_sqlite_and_postgres

DOMESTIC_REGIONAL = {"sea", "oak", "dfw", "ord", "atl", "ewr"}
NEW_YORK = {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99}
SKU_COUNT = 100  # the default catalogue: SKU-0001 ... SKU-0100


@pytest.fixture
async def http(fast_system: RunningSystem) -> Any:
    async with fast_system.client() as client:
        yield client


def assert_invariant(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert row["on_hand"] == row["available"] + row["reserved"] + row["shipped"], row
        assert min(row["available"], row["reserved"], row["shipped"]) >= 0, row


async def test_the_default_network_is_listed_with_its_central_fc_and_capacities(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/fulfilment-centres")

    assert response.status_code == 200
    centres = {c["id"]: c for c in response.json()}
    described = {fc.id: fc for fc in load_network_spec(None).network.centres}
    assert set(centres) == set(described)
    assert [i for i, c in centres.items() if c["central"]] == ["mci"]
    assert {i for i, c in centres.items() if c["country"] == "US"} >= DOMESTIC_REGIONAL
    assert not any(centres[i]["central"] for i in DOMESTIC_REGIONAL)
    for fc_id, centre in centres.items():
        assert centre["capacity_per_hour"] == described[fc_id].capacity_per_hour > 0
        assert (centre["lat"], centre["lon"]) == (described[fc_id].lat, described[fc_id].lon)
        assert centre["name"] and centre["region"]
    # The central FC is one building bigger than any regional one.
    assert centres["mci"]["capacity_per_hour"] > max(
        centres[i]["capacity_per_hour"] for i in DOMESTIC_REGIONAL
    )


async def test_inventory_filters_by_centre_and_sku(http: httpx.AsyncClient) -> None:
    by_sku = (await http.get("/inventory", params={"sku": "SKU-0007"})).json()
    one = (
        await http.get("/inventory", params={"sku": "SKU-0007", "fulfilment_centre": "sea"})
    ).json()
    nothing = (await http.get("/inventory", params={"sku": "SKU-9999"})).json()

    centres = {c["id"] for c in (await http.get("/fulfilment-centres")).json()}
    assert {row["fulfilment_centre"] for row in by_sku["items"]} == centres
    assert {row["sku"] for row in by_sku["items"]} == {"SKU-0007"}
    assert [(r["fulfilment_centre"], r["sku"]) for r in one["items"]] == [("sea", "SKU-0007")]
    regional = [r for r in by_sku["items"] if r["fulfilment_centre"] in DOMESTIC_REGIONAL]
    central = next(r for r in by_sku["items"] if r["fulfilment_centre"] == "mci")
    assert {r["on_hand"] for r in regional} == {500}
    assert central["on_hand"] >= 6 * 500  # it holds what all regional FCs hold together
    assert nothing == {"items": [], "next_cursor": None}
    assert_invariant(by_sku["items"])


async def test_inventory_pages_through_every_sku_of_a_centre_with_a_cursor(
    http: httpx.AsyncClient,
) -> None:
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"fulfilment_centre": "ord", "limit": 40}
    while True:
        page = (await http.get("/inventory", params=params)).json()
        pages.append(page)
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
        assert len(pages) < 10, "the cursor does not advance"

    rows = [row for page in pages for row in page["items"]]
    assert [len(page["items"]) for page in pages] == [40, 40, 20]
    assert [row["sku"] for row in rows] == [f"SKU-{n:04d}" for n in range(1, SKU_COUNT + 1)]
    assert {row["fulfilment_centre"] for row in rows} == {"ord"}
    assert_invariant(rows)


async def test_a_bad_cursor_or_limit_gets_422(http: httpx.AsyncClient) -> None:
    assert "cursor" in fields_named(await http.get("/inventory", params={"cursor": "no-bar"}))
    assert "limit" in fields_named(await http.get("/inventory", params={"limit": 0}))


async def test_stock_of_an_unknown_centre_is_a_404_naming_it(http: httpx.AsyncClient) -> None:
    response = await http.get("/inventory", params={"fulfilment_centre": "nowhere"})

    assert problem(response, 404)["errors"] == [
        {"field": "fulfilment_centre", "message": "no fulfilment centre 'nowhere'"}
    ]


async def test_an_order_moves_its_units_from_available_to_reserved_then_shipped(
    http: httpx.AsyncClient,
) -> None:
    before = await stock_of(http, "ewr", "SKU-0031")
    elsewhere = await stock_of(http, "ord", "SKU-0031")
    placed = await http.post(
        "/orders",
        json={
            "customer_id": "c-stock",
            "order_type": "standard",
            "destination": NEW_YORK,
            "lines": [{"sku": "SKU-0031", "quantity": 3}],
        },
    )
    assert placed.status_code == 201, placed.text
    [allocation] = placed.json()["allocations"]
    assert allocation["fulfilment_centre"] == "ewr"

    after = await stock_of(http, "ewr", "SKU-0031")
    # At this speed the parcel may already have left: the units are reserved or shipped.
    assert after["available"] == before["available"] - 3
    assert after["reserved"] + after["shipped"] == before["reserved"] + before["shipped"] + 3
    assert after["on_hand"] == before["on_hand"]

    async def shipped() -> dict[str, Any] | None:
        row = await stock_of(http, "ewr", "SKU-0031")
        return row if row["shipped"] == before["shipped"] + 3 else None

    dispatched = await eventually(shipped, within=30, what="the parcel's units to ship")
    assert dispatched["reserved"] == before["reserved"]
    assert dispatched["available"] == before["available"] - 3
    assert await stock_of(http, "ord", "SKU-0031") == elsewhere  # no other FC moved


async def test_a_receipt_adds_stock_once_per_receipt_id(http: httpx.AsyncClient) -> None:
    before = await stock_of(http, "dfw", "SKU-0032")
    receipt = {
        "receipt_id": f"rcpt-{secrets.token_hex(4)}",
        "fulfilment_centre": "dfw",
        "sku": "SKU-0032",
        "quantity": 25,
    }

    first = await http.post("/inventory/receipts", json=receipt)
    after_first = await stock_of(http, "dfw", "SKU-0032")
    repeat = await http.post("/inventory/receipts", json=receipt)
    after_repeat = await stock_of(http, "dfw", "SKU-0032")

    assert first.status_code == 201, first.text
    assert first.json()["receipt_id"] == receipt["receipt_id"]
    assert first.json()["recorded"] is True
    assert after_first["on_hand"] == before["on_hand"] + 25
    assert after_first["available"] == before["available"] + 25
    assert repeat.status_code == 201, repeat.text
    assert repeat.json()["recorded"] is False
    assert after_repeat == after_first


async def test_a_receipt_without_an_id_gets_one_and_counts(http: httpx.AsyncClient) -> None:
    before = await stock_of(http, "atl", "SKU-0033")
    receipt = {"fulfilment_centre": "atl", "sku": "SKU-0033", "quantity": 4}

    first = (await http.post("/inventory/receipts", json=receipt)).json()
    second = (await http.post("/inventory/receipts", json=receipt)).json()

    assert first["recorded"] is second["recorded"] is True
    assert first["receipt_id"] != second["receipt_id"]
    assert (await stock_of(http, "atl", "SKU-0033"))["available"] == before["available"] + 8


@pytest.mark.parametrize(
    ("centre", "sku"), [("nowhere", "SKU-0001"), ("ewr", "SKU-9999"), ("ewr", "sku-0001")]
)
async def test_a_receipt_for_an_unknown_centre_or_sku_gets_404(
    http: httpx.AsyncClient, centre: str, sku: str
) -> None:
    response = await http.post(
        "/inventory/receipts", json={"fulfilment_centre": centre, "sku": sku, "quantity": 1}
    )

    assert sku in problem(response, 404)["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -5}, "quantity"),
        ({"quantity": "many"}, "quantity"),
        ({"colour": "red"}, "colour"),
        ({"fulfilment_centre": None}, "fulfilment_centre"),
        ({"receipt_id": "has spaces"}, "receipt_id"),
    ],
)
async def test_an_invalid_receipt_gets_422_naming_the_field(
    http: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    before = await stock_of(http, "ewr", "SKU-0034")
    body = {"fulfilment_centre": "ewr", "sku": "SKU-0034", "quantity": 5, **change}

    response = await http.post("/inventory/receipts", json=body)

    assert field in fields_named(response)
    assert await stock_of(http, "ewr", "SKU-0034") == before
