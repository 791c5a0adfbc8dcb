"""Reading a network description: everything checked, every problem reported at once."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from domain.network import Market
from domain.network_spec import NetworkSpecError, parse_network_spec
from domain.orders import OrderType


def valid() -> dict[str, Any]:
    return {
        "centres": [
            {
                "id": "east", "name": "East", "region": "east", "country": "US",
                "lat": 40.7, "lon": -74.0, "markets": ["domestic"],
            },
            {
                "id": "eu", "name": "Europe", "region": "europe", "country": "NL",
                "lat": 52.3, "lon": 4.8, "capacity_per_hour": 10, "markets": ["international"],
                "handling_hours": {"international": 2.5},
            },
            {
                "id": "hub", "name": "Hub", "region": "central", "country": "US",
                "lat": 39.1, "lon": -94.6, "central": True, "capacity_per_hour": 100,
            },
        ],
        "service_levels": {
            kind.value: {
                "fixed_transit_hours": 1.0, "speed_kmh": 80, "customs_hours": 0,
                "promise_margin_hours": 2,
            }
            for kind in OrderType
        },
        "catalogue": {"sku_count": 3},
        "stock": {"units_per_sku": 10},
    }  # fmt: skip


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(NetworkSpecError) as caught:
        parse_network_spec(data)
    return list(caught.value.problems)


def changed(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(valid())
    edit(data)
    return data


def test_a_valid_description_gives_the_network_levels_catalogue_and_stock() -> None:
    spec = parse_network_spec(valid())
    assert spec.network.ids() == ("east", "eu", "hub")
    assert spec.network.central().id == "hub"
    assert spec.network.get("eu").markets == frozenset({Market.INTERNATIONAL})
    assert spec.network.get("eu").capacity_per_hour == 10.0
    assert spec.service_levels[OrderType.EXPEDITED].speed_kmh == 80.0
    assert spec.skus == ("SKU-0001", "SKU-0002", "SKU-0003")
    assert spec.initial_stock[("east", "SKU-0002")] == 10
    assert spec.initial_stock[("hub", "SKU-0002")] == 20


def test_optional_centre_keys_take_the_domain_defaults_and_handling_merges() -> None:
    spec = parse_network_spec(valid())
    east, eu = spec.network.get("east"), spec.network.get("eu")
    assert east.capacity_per_hour == 40.0 and not east.central
    assert spec.network.central().markets == frozenset(Market)
    assert dict(eu.handling_hours) == {
        OrderType.STANDARD: 1.0,
        OrderType.EXPEDITED: 0.5,
        OrderType.INTERNATIONAL: 2.5,
    }


def test_a_regional_centre_may_start_with_its_own_stock_and_the_hub_holds_the_sum() -> None:
    spec = parse_network_spec(changed(lambda d: d["stock"].update(per_centre={"eu": 4})))
    assert spec.initial_stock[("eu", "SKU-0001")] == 4
    assert spec.initial_stock[("hub", "SKU-0001")] == 14


def more_domestic_centres(data: dict[str, Any]) -> None:
    """east, west, south serve the US; eu abroad; a catalogue of five SKUs."""
    east = data["centres"][0]
    data["centres"][1:1] = [dict(east, id="west", lon=-122.3), dict(east, id="south", lat=32.8)]
    data["catalogue"]["sku_count"] = 5


def test_an_assortment_deals_the_long_tail_round_robin_and_the_hub_holds_the_sum() -> None:
    def edit(data: dict[str, Any]) -> None:
        more_domestic_centres(data)
        data["stock"]["assortment"] = {"domestic": {"everywhere": 2, "long_tail_copies": 2}}

    stock = parse_network_spec(changed(edit)).initial_stock

    def held(sku: str) -> list[str]:
        return [fc for fc in ("east", "west", "south", "eu") if stock[(fc, sku)] == 10]

    assert held("SKU-0001") == held("SKU-0002") == ["east", "west", "south", "eu"]
    assert held("SKU-0003") == ["east", "west", "eu"]
    assert held("SKU-0004") == ["east", "south", "eu"]
    assert held("SKU-0005") == ["west", "south", "eu"]
    assert stock[("south", "SKU-0003")] == 0
    assert [stock[("hub", f"SKU-000{n}")] for n in range(1, 6)] == [40, 40, 30, 30, 30]


def test_a_rule_for_each_market_applies_to_its_own_centres() -> None:
    def edit(data: dict[str, Any]) -> None:
        more_domestic_centres(data)
        data["centres"].insert(4, dict(data["centres"][3], id="asia", lon=103.9, country="SG"))
        data["stock"]["assortment"] = {
            "domestic": {"everywhere": 5, "long_tail_copies": 1},
            "international": {"everywhere": 1, "long_tail_copies": 1},
        }

    stock = parse_network_spec(changed(edit)).initial_stock

    def held(sku: str) -> list[str]:
        return [fc for fc in ("east", "west", "south", "eu", "asia") if stock[(fc, sku)] == 10]

    assert held("SKU-0001") == ["east", "west", "south", "eu", "asia"]
    assert [held(f"SKU-000{n}") for n in range(2, 6)] == [
        ["east", "west", "south", "eu"],
        ["east", "west", "south", "asia"],
        ["east", "west", "south", "eu"],
        ["east", "west", "south", "asia"],
    ]


def test_the_error_is_a_value_error_listing_every_problem_on_its_own_line() -> None:
    data = changed(lambda d: (d["catalogue"].update(sku_count=0), d["stock"].pop("units_per_sku")))
    with pytest.raises(ValueError) as caught:
        parse_network_spec(data)
    assert str(caught.value).splitlines() == [
        "invalid network description:",
        "catalogue.sku_count: must be between 1 and 9999",
        "stock.units_per_sku: is required",
    ]


def test_missing_sections_and_unknown_ones_are_named() -> None:
    data = changed(lambda d: (d.pop("service_levels"), d.pop("stock"), d.update(extra=1)))
    assert problems_of(data) == [
        "service_levels: is required",
        "stock: is required",
        "extra: unknown key (expected one of: catalogue, centres, service_levels, stock)",
    ]


def test_a_description_that_is_not_a_table_is_refused() -> None:
    assert problems_of([1, 2]) == ["(top level): must be a table, got a list"]  # type: ignore[arg-type]


def test_every_mistake_in_a_centre_is_reported_with_its_path() -> None:
    def break_it(data: dict[str, Any]) -> None:
        data["centres"][0].update(
            lat=91, lon="west", name="", country="XX", capacity_per_hour=0, central="yes",
            markets=["domestic", "mars", {"x": 1}],
            handling_hours={"standard": -1, "overnight": 1},
            colour="red",
        )  # fmt: skip
        del data["centres"][1]["region"]

    assert problems_of(changed(break_it)) == [
        "centres[0].colour: unknown key (expected one of: capacity_per_hour, central, country, "
        "handling_hours, id, lat, lon, markets, name, region)",
        "centres[0].name: must be a non-empty string, got an empty string",
        "centres[0].country: unknown country code 'XX' (ISO 3166-1 alpha-2)",
        "centres[0].lat: must be between -90 and 90",
        "centres[0].lon: must be a number, got 'west'",
        "centres[0].capacity_per_hour: must be positive",
        "centres[0].central: must be true or false, got 'yes'",
        "centres[0].handling_hours.overnight: unknown key (expected one of: expedited, "
        "international, standard)",
        "centres[0].handling_hours.standard: must be zero or more",
        "centres[0].markets: 'mars' is not a market (expected domestic, international)",
        "centres[0].markets: a table is not a market (expected domestic, international)",
        "centres[1].region: is required",
        "centres: no regional centre serves the domestic market",
    ]


def test_network_wide_mistakes_are_reported_under_centres() -> None:
    def break_it(data: dict[str, Any]) -> None:
        data["centres"][0].update(id="East", central=True)
        data["centres"][1]["id"] = "hub"
        data["centres"][2]["markets"] = ["domestic"]

    assert problems_of(changed(break_it)) == [
        "centres: centre ids must match [a-z0-9-]+: ['East']",
        "centres: centre ids must be unique: ['hub'] repeated",
        "centres: a network needs exactly one central centre, got ['East', 'hub']",
        "centres: the central centre 'East' must serve every market: ['international']",
        "centres: the central centre 'hub' must serve every market: ['international']",
        "centres: no regional centre serves the domestic market",
    ]


@pytest.mark.parametrize(
    ("centres", "problem"),
    [
        ([], "centres: must be a non-empty list of tables ([[centres]]), got a list"),
        ({"id": "a"}, "centres: must be a non-empty list of tables ([[centres]]), got a table"),
        ([7], "centres[0]: must be a table, got 7"),
    ],
)
def test_centres_must_be_a_list_of_tables(centres: object, problem: str) -> None:
    assert problem in problems_of(changed(lambda d: d.update(centres=centres)))


def test_every_mistake_in_the_service_levels_is_reported_with_its_path() -> None:
    def break_it(data: dict[str, Any]) -> None:
        levels = data["service_levels"]
        levels["standard"].update(speed_kmh=0, customs_hours=-1.5, fixed_transit_hours=True)
        levels["expedited"].update(promise_margin_hours=float("nan"), speed_kmh=float("inf"))
        del levels["international"]["customs_hours"]
        levels["overnight"] = levels["expedited"]

    assert problems_of(changed(break_it)) == [
        "service_levels.overnight: unknown key (expected one of: expedited, international, "
        "standard)",
        "service_levels.standard.fixed_transit_hours: must be a number, got true",
        "service_levels.standard.speed_kmh: must be positive",
        "service_levels.standard.customs_hours: must be zero or more",
        "service_levels.expedited.speed_kmh: must be a finite number",
        "service_levels.expedited.promise_margin_hours: must be a finite number",
        "service_levels.international.customs_hours: is required",
    ]


def test_a_missing_service_level_is_named() -> None:
    data = changed(lambda d: d["service_levels"].pop("expedited"))
    assert problems_of(data) == ["service_levels.expedited: is required"]


@pytest.mark.parametrize(
    ("catalogue", "problem"),
    [
        ({"sku_count": 0}, "catalogue.sku_count: must be between 1 and 9999"),
        ({"sku_count": 10_000}, "catalogue.sku_count: must be between 1 and 9999"),
        ({"sku_count": 2.5}, "catalogue.sku_count: must be a whole number, got 2.5"),
        ({}, "catalogue.sku_count: is required"),
        ({"sku_count": 3, "skus": []}, "catalogue.skus: unknown key (expected one of: sku_count)"),
        ("many", "catalogue: must be a table, got 'many'"),
    ],
)
def test_catalogue_mistakes_are_reported(catalogue: object, problem: str) -> None:
    assert problems_of(changed(lambda d: d.update(catalogue=catalogue))) == [problem]


@pytest.mark.parametrize(
    ("stock", "problem"),
    [
        ({"units_per_sku": -1}, "stock.units_per_sku: must be zero or more"),
        ({"units_per_sku": "10"}, "stock.units_per_sku: must be a whole number, got '10'"),
        (
            {"units_per_sku": 1, "per_centre": {"hub": 5}},
            "stock.per_centre.hub: the central centre always holds the regional centres' sum",
        ),
        ({"units_per_sku": 1, "per_centre": {"lax": 5}}, "stock.per_centre.lax: no such centre"),
        (
            {"units_per_sku": 1, "per_centre": {"eu": -5}},
            "stock.per_centre.eu: must be zero or more",
        ),
        (
            {"units_per_sku": 1, "per_centre": 5},
            "stock.per_centre: must be a table of centre id = units per SKU, got 5",
        ),
    ],
)
def test_stock_mistakes_are_reported(stock: object, problem: str) -> None:
    assert problems_of(changed(lambda d: d.update(stock=stock))) == [problem]


def test_an_unknown_stock_key_is_refused() -> None:
    data = changed(lambda d: d["stock"].update(ranges={}))
    assert problems_of(data) == [
        "stock.ranges: unknown key (expected one of: assortment, per_centre, units_per_sku)"
    ]


@pytest.mark.parametrize(
    ("assortment", "problem"),
    [
        (5, "stock.assortment: must be a table, got 5"),
        (
            {"mars": {"everywhere": 1, "long_tail_copies": 1}},
            "stock.assortment.mars: unknown key (expected one of: domestic, international)",
        ),
        ({"domestic": 40}, "stock.assortment.domestic: must be a table, got 40"),
        (
            {"domestic": {"everywhere": 1}},
            "stock.assortment.domestic.long_tail_copies: is required",
        ),
        (
            {"domestic": {"everywhere": 1, "long_tail_copies": 1, "copies": 2}},
            "stock.assortment.domestic.copies: unknown key (expected one of: everywhere, "
            "long_tail_copies)",
        ),
        (
            {"domestic": {"everywhere": 4, "long_tail_copies": 1}},
            "stock.assortment.domestic.everywhere: must be between 0 and 3 "
            "(the catalogue has 3 SKUs)",
        ),
        (
            {"domestic": {"everywhere": -1, "long_tail_copies": 1}},
            "stock.assortment.domestic.everywhere: must be between 0 and 3 "
            "(the catalogue has 3 SKUs)",
        ),
        (
            {"domestic": {"everywhere": 1.5, "long_tail_copies": 1}},
            "stock.assortment.domestic.everywhere: must be a whole number, got 1.5",
        ),
        (
            {"domestic": {"everywhere": 1, "long_tail_copies": 2}},
            "stock.assortment.domestic.long_tail_copies: must be between 1 and 1 "
            "(1 regional centre(s) serve the domestic market)",
        ),
        (
            {"international": {"everywhere": 0, "long_tail_copies": 0}},
            "stock.assortment.international.long_tail_copies: must be between 1 and 1 "
            "(1 regional centre(s) serve the international market)",
        ),
    ],
)
def test_assortment_mistakes_are_reported(assortment: object, problem: str) -> None:
    data = changed(lambda d: d["stock"].update(assortment=assortment))
    assert problems_of(data) == [problem]


def test_copies_are_bounded_by_the_centres_of_their_market() -> None:
    def edit(data: dict[str, Any]) -> None:
        more_domestic_centres(data)
        data["stock"]["assortment"] = {"domestic": {"everywhere": 0, "long_tail_copies": 4}}

    assert problems_of(changed(edit)) == [
        "stock.assortment.domestic.long_tail_copies: must be between 1 and 3 "
        "(3 regional centre(s) serve the domestic market)"
    ]
    three = changed(
        lambda d: (edit(d), d["stock"]["assortment"]["domestic"].update(long_tail_copies=3))
    )
    assert parse_network_spec(three).initial_stock[("hub", "SKU-0005")] == 40  # and eu


def test_an_assortment_is_only_checked_against_sections_that_are_valid() -> None:
    def break_it(data: dict[str, Any]) -> None:
        data["catalogue"]["sku_count"] = "lots"
        data["centres"][0]["lat"] = 100
        data["stock"]["assortment"] = {"domestic": {"everywhere": 50, "long_tail_copies": 5}}

    assert problems_of(changed(break_it)) == [
        "centres[0].lat: must be between -90 and 90",
        "catalogue.sku_count: must be a whole number, got 'lots'",
    ]


def test_mistakes_in_every_section_come_back_together() -> None:
    def break_it(data: dict[str, Any]) -> None:
        data["centres"][2]["lat"] = -100
        data["service_levels"]["expedited"]["speed_kmh"] = -1
        data["catalogue"]["sku_count"] = "lots"
        data["stock"]["per_centre"] = {"nowhere": 1}

    assert problems_of(changed(break_it)) == [
        "centres[2].lat: must be between -90 and 90",
        "service_levels.expedited.speed_kmh: must be positive",
        "catalogue.sku_count: must be a whole number, got 'lots'",
        "stock.per_centre.nowhere: no such centre",
    ]
