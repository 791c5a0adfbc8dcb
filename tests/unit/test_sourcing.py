"""Sourcing rules, one behaviour per test, on small made-up networks along the equator.

A centre `km` east of the customer stands at longitude km / 111.19: distances are then
easy to read off the test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import pytest

from domain.geo import EARTH_MEAN_RADIUS_KM
from domain.network import (
    ALL_MARKETS,
    DEFAULT_HANDLING_HOURS,
    DEFAULT_NETWORK,
    FulfilmentCentre,
    Market,
    Network,
)
from domain.network_spec import NetworkSpec, default_network_spec
from domain.orders import Destination, Mode, OrderLine, OrderType
from domain.service_levels import DEFAULT_SERVICE_LEVELS
from domain.sourcing import (
    Shortage,
    SourcingDecision,
    StockLevels,
    eligible_centres,
    source,
    unknown_skus,
)

KM_PER_DEGREE = math.pi * EARTH_MEAN_RADIUS_KM / 180
CUSTOMER = Destination("US", "00000", 0.0, 0.0)
MANHATTAN = Destination("US", "10001", 40.75, -73.99)
BELLEVUE = Destination("US", "98004", 47.61, -122.20)
LONDON = Destination("GB", "EC1A 1BB", 51.5074, -0.1278)
DEFAULT_SPEC = default_network_spec()


def fc(
    fc_id: str,
    km: float,
    *,
    central: bool = False,
    capacity: float = 40.0,
    handling: Mapping[OrderType, float] = DEFAULT_HANDLING_HOURS,
    markets: frozenset[Market] = ALL_MARKETS,
) -> FulfilmentCentre:
    lon = km / KM_PER_DEGREE
    return FulfilmentCentre(
        fc_id, fc_id.upper(), "test", "US", 0.0, lon, central, capacity, handling, markets
    )


def spec(*centres: FulfilmentCentre, hub_km: float = 5000) -> NetworkSpec:
    network = Network((*centres, fc("hub", hub_km, central=True)))
    return NetworkSpec(network, DEFAULT_SERVICE_LEVELS, ("A", "B", "C", "D"), {})


def holding(**skus_at: str) -> dict[tuple[str, str], int]:
    """holding(a="AB", b="C"): 10 units of A and B at centre a, 10 of C at centre b."""
    return {(fc_id, sku): 10 for fc_id, skus in skus_at.items() for sku in skus}


def order(*skus: str) -> list[OrderLine]:
    return [OrderLine(sku, 1) for sku in skus]


def decide(
    network: NetworkSpec,
    lines: Sequence[OrderLine],
    stock: StockLevels,
    mode: Mode = Mode.DISTRIBUTED,
    backlog: Mapping[str, int] | None = None,
    destination: Destination = CUSTOMER,
    order_type: OrderType = OrderType.STANDARD,
    max_parcels: int = 3,
) -> SourcingDecision:
    return source(network, mode, order_type, destination, lines, stock, backlog or {}, max_parcels)


def shipped(decision: SourcingDecision) -> dict[str, str]:
    """Which centre ships which SKUs, e.g. {"a": "AB", "b": "C"}."""
    return {p.centre_id: "".join(line.sku for line in p.lines) for p in decision.parcels}


def test_prefers_the_nearest_centre_that_holds_the_whole_order() -> None:
    line = [OrderLine("SKU-0001", 1)]
    stock = DEFAULT_SPEC.initial_stock
    assert shipped(decide(DEFAULT_SPEC, line, stock, destination=MANHATTAN)) == {"ewr": "SKU-0001"}
    assert shipped(decide(DEFAULT_SPEC, line, stock, destination=BELLEVUE)) == {"sea": "SKU-0001"}


def test_one_far_centre_beats_two_near_ones() -> None:
    network = spec(fc("near1", 10), fc("near2", 20), fc("far", 3000))
    decision = decide(network, order("A", "B"), holding(near1="A", near2="B", far="AB"))
    assert shipped(decision) == {"far": "AB"}
    assert decision.splits == 0


def test_without_a_single_centre_the_fewest_parcels_win_over_distance() -> None:
    network = spec(fc("a", 10), fc("b", 20), fc("c", 30), fc("bc", 2000))
    decision = decide(network, order("A", "B", "C"), holding(a="A", b="B", c="C", bc="BC"))
    assert shipped(decision) == {"a": "A", "bc": "BC"}
    assert decision.splits == 1


def test_among_splits_of_one_size_the_least_total_distance_wins() -> None:
    network = spec(fc("a", 10), fc("b-far", 900), fc("b-near", 400))
    decision = decide(network, order("A", "B"), holding(a="A", **{"b-far": "B", "b-near": "B"}))
    assert shipped(decision) == {"a": "A", "b-near": "B"}


def test_the_total_distance_counts_every_parcel_not_only_the_farthest() -> None:
    network = spec(fc("a", 10), fc("b", 1000), fc("c", 600), fc("d", 600))
    stock = holding(a="A", b="BC", c="AB", d="C")
    decision = decide(network, order("A", "B", "C"), stock)
    assert shipped(decision) == {"a": "A", "b": "BC"}  # 1,010 km in all against c + d's 1,200


def test_a_busier_centre_loses_a_distance_tie() -> None:
    network = spec(fc("a", 100), fc("b", 100))
    stock = holding(a="A", b="A")
    assert shipped(decide(network, order("A"), stock, backlog={"a": 40, "b": 10})) == {"b": "A"}
    assert shipped(decide(network, order("A"), stock, backlog={"a": 10, "b": 40})) == {"a": "A"}


def test_load_is_backlog_over_capacity_not_the_backlog_alone() -> None:
    network = spec(fc("small", 100, capacity=10), fc("large", 100, capacity=100))
    decision = decide(
        network, order("A"), holding(small="A", large="A"), backlog={"small": 5, "large": 20}
    )
    assert shipped(decision) == {"large": "A"}  # 0.2 hours of work ahead against 0.5


def test_distance_outranks_load() -> None:
    network = spec(fc("near", 100), fc("far", 200))
    decision = decide(network, order("A"), holding(near="A", far="A"), backlog={"near": 400})
    assert shipped(decision) == {"near": "A"}


def test_distances_within_the_same_kilometre_count_as_a_tie() -> None:
    network = spec(fc("a", 100.2), fc("b", 100.4))
    assert shipped(decide(network, order("A"), holding(a="A", b="A"), backlog={"a": 5})) == {
        "b": "A"
    }


def test_among_equally_near_and_busy_centres_the_earlier_delivery_wins() -> None:
    slow = {**DEFAULT_HANDLING_HOURS, OrderType.STANDARD: 3.0}
    network = spec(fc("a-slow", 100, handling=slow), fc("b-quick", 100))
    decision = decide(network, order("A"), holding(**{"a-slow": "A", "b-quick": "A"}))
    assert shipped(decision) == {"b-quick": "A"}


def test_full_ties_go_to_the_centre_first_by_id() -> None:
    network = spec(fc("b", 100), fc("a", 100))
    assert shipped(decide(network, order("A"), holding(a="A", b="A"))) == {"a": "A"}


def test_quantities_of_the_same_sku_on_several_lines_add_up() -> None:
    network = spec(fc("near", 10), fc("far", 900))
    stock = {("near", "A"): 5, ("far", "A"): 6}
    assert shipped(decide(network, [OrderLine("A", 5)], stock)) == {"near": "A"}
    decision = decide(network, [OrderLine("A", 3), OrderLine("A", 3)], stock)
    assert shipped(decision) == {"far": "A"}
    assert decision.parcels[0].lines == (OrderLine("A", 6),)


def test_a_sku_is_never_split_between_centres() -> None:
    network = spec(fc("a", 10), fc("b", 20))
    decision = decide(network, [OrderLine("A", 4)], {("a", "A"): 2, ("b", "A"): 2})
    assert not decision.served
    assert decision.shortages == (Shortage("A", requested=4, available=2),)


def test_each_sku_of_a_split_ships_from_the_nearest_chosen_centre_holding_it() -> None:
    network = spec(fc("a", 10), fc("b", 20))
    decision = decide(network, order("A", "B", "C"), holding(a="AB", b="BC"))
    assert shipped(decision) == {"a": "AB", "b": "C"}


def test_centralized_mode_only_ships_from_the_central_centre() -> None:
    network = spec(fc("a", 10))
    stock = holding(a="A", hub="A")
    assert shipped(decide(network, order("A"), stock, Mode.CENTRALIZED)) == {"hub": "A"}
    assert eligible_centres(network.network, Mode.CENTRALIZED, CUSTOMER) == (
        network.network.central(),
    )


def test_distributed_mode_never_ships_from_the_central_centre() -> None:
    network = spec(fc("a", 10))
    decision = decide(network, order("A"), holding(hub="A"))
    assert not decision.served
    assert decision.shortages == (Shortage("A", requested=1, available=0),)


def test_international_orders_ship_from_the_centres_serving_abroad() -> None:
    eligible = eligible_centres(DEFAULT_NETWORK, Mode.DISTRIBUTED, LONDON)
    assert [c.id for c in eligible] == ["mia", "ams", "sin"]
    decision = decide(
        DEFAULT_SPEC,
        [OrderLine("SKU-0001", 1)],
        DEFAULT_SPEC.initial_stock,
        destination=LONDON,
        order_type=OrderType.INTERNATIONAL,
    )
    assert shipped(decision) == {"ams": "SKU-0001"}


def test_domestic_orders_never_ship_from_a_gateway_abroad() -> None:
    eligible = eligible_centres(DEFAULT_NETWORK, Mode.HYBRID, MANHATTAN)
    assert [c.id for c in eligible] == ["sea", "oak", "dfw", "ord", "atl", "ewr", "mci"]


def test_hybrid_falls_back_to_the_central_centre_only_when_regionals_cannot_serve() -> None:
    network = spec(fc("a", 10), fc("b", 20))
    regional_can = decide(network, order("A", "B"), holding(a="A", b="B", hub="AB"), Mode.HYBRID)
    assert shipped(regional_can) == {"a": "A", "b": "B"}
    regional_cannot = decide(network, order("A", "B"), holding(a="A", hub="AB"), Mode.HYBRID)
    assert shipped(regional_cannot) == {"hub": "AB"}
    assert regional_cannot.reason.startswith("No regional centres can ship the order")


def test_hybrid_uses_the_central_centre_when_regionals_would_need_too_many_parcels() -> None:
    network = spec(fc("a", 10), fc("b", 20), fc("c", 30))
    stock = holding(a="A", b="B", c="C", hub="ABC")
    assert len(decide(network, order("A", "B", "C"), stock, Mode.HYBRID).parcels) == 3
    fallback = decide(network, order("A", "B", "C"), stock, Mode.HYBRID, max_parcels=2)
    assert shipped(fallback) == {"hub": "ABC"}


def test_hybrid_pairs_the_central_centre_with_a_regional_one_when_neither_suffices() -> None:
    network = spec(fc("a", 10))
    decision = decide(network, order("A", "B"), holding(a="A", hub="B"), Mode.HYBRID)
    assert shipped(decision) == {"a": "A", "hub": "B"}


def test_an_order_needing_more_parcels_than_allowed_is_refused_without_shortages() -> None:
    network = spec(fc("a", 10), fc("b", 20), fc("c", 30))
    decision = decide(network, order("A", "B", "C"), holding(a="A", b="B", c="C"), max_parcels=2)
    assert not decision.served and decision.promised_hours is None
    assert decision.shortages == ()
    assert "more than 2 parcels" in decision.reason


def test_a_shortage_reports_the_most_any_single_eligible_centre_has() -> None:
    network = spec(fc("a", 10), fc("b", 20))
    stock = {("a", "A"): 2, ("b", "A"): 3, ("hub", "A"): 50, ("a", "B"): 9}
    lines = [OrderLine("B", 1), OrderLine("A", 2), OrderLine("A", 2)]
    decision = decide(network, lines, stock)
    assert decision.shortages == (Shortage("A", requested=4, available=3),)
    assert "Out of stock" in decision.reason and "A" in decision.reason
    assert decide(network, lines, stock | {("hub", "B"): 1}, Mode.HYBRID).served


def test_a_sku_stocked_nowhere_has_nothing_available() -> None:
    decision = decide(DEFAULT_SPEC, [OrderLine("SKU-9999", 1)], DEFAULT_SPEC.initial_stock)
    assert decision.shortages == (Shortage("SKU-9999", requested=1, available=0),)


def test_the_promise_comes_from_the_slowest_parcel() -> None:
    network = spec(fc("a", 80), fc("b", 790))
    decision = decide(network, order("A", "B"), holding(a="A", b="B"))
    slowest = max(decision.parcels, key=lambda p: p.hours)
    assert slowest.centre_id == "b"
    assert slowest.transit_hours == pytest.approx(1 + 790 / 80)
    assert decision.promised_hours == 14.0  # handling 1 + transit 10.875 + margin 2, rounded up


def test_the_orders_ahead_lengthen_handling_and_the_promise() -> None:
    network = spec(fc("a", 80, capacity=10))
    idle = decide(network, order("A"), holding(a="A"))
    busy = decide(network, order("A"), holding(a="A"), backlog={"a": 30})
    assert busy.parcels[0].handling_hours == idle.parcels[0].handling_hours + 3.0
    assert busy.promised_hours == (idle.promised_hours or 0) + 3.0


def test_the_reason_names_the_choice_and_what_beat_the_runner_up() -> None:
    network = spec(fc("a", 100), fc("b", 100), fc("c", 900))
    nearest = decide(network, order("A"), holding(a="A", c="A"))
    assert (
        nearest.reason == "Whole order from a, 100 km away, the least distance (next: c, 900 km)."
    )
    busier = decide(network, order("A"), holding(a="A", b="A"), backlog={"a": 20})
    assert busier.reason == (
        "Whole order from b, 100 km away; a is as near but busier "
        "(0.5 against 0.0 hours of backlog)."
    )
    only = decide(network, order("A"), holding(c="A"))
    assert only.reason == "Whole order from c, 900 km away, the only choice."
    split = decide(network, order("A", "B"), holding(a="A", c="B"))
    assert split.reason.startswith(
        "No single centre holds the whole order; 2 parcels is the fewest"
    )


def test_considered_lists_every_eligible_centre_nearest_first() -> None:
    network = spec(fc("far", 900), fc("near", 10))
    decision = decide(network, order("A", "B"), holding(near="A", far="AB"), backlog={"far": 7})
    notes = [(n.centre_id, n.lines_coverable, n.backlog, n.chosen) for n in decision.considered]
    assert notes == [("near", 1, 0, False), ("far", 2, 7, True)]


def test_the_decision_as_a_dict_is_ready_for_json() -> None:
    network = spec(fc("a", 10), fc("b", 20))
    decision = decide(network, order("A", "B"), holding(a="A", b="B"))
    data = json.loads(json.dumps(decision.as_dict()))
    assert data["served"] is True and data["splits"] == 1
    assert data["promised_hours"] == decision.promised_hours
    assert [p["fulfilment_centre"] for p in data["parcels"]] == ["a", "b"]
    assert data["parcels"][0]["lines"] == [{"sku": "A", "quantity": 1}]
    assert data["parcels"][0]["distance_km"] == 10.0
    assert list(data["considered"][0]) == [
        "fulfilment_centre",
        "distance_km",
        "lines_coverable",
        "backlog",
        "chosen",
    ]
    refused = decide(network, order("C"), {}).as_dict()
    assert refused["parcels"] == [] and refused["promised_hours"] is None
    assert refused["shortages"] == [{"sku": "C", "requested": 1, "available": 0}]


def test_the_same_inputs_always_give_the_same_decision() -> None:
    network = spec(fc("a", 10), fc("b", 10), fc("c", 10))
    stock = holding(a="AB", b="BC", c="CA")
    decisions = {decide(network, order("A", "B", "C"), stock).reason for _ in range(5)}
    assert len(decisions) == 1


@pytest.mark.parametrize(("lines", "max_parcels"), [([], 3), ([OrderLine("A", 1)], 0)])
def test_an_empty_order_or_no_parcels_allowed_is_a_programming_error(
    lines: list[OrderLine], max_parcels: int
) -> None:
    with pytest.raises(ValueError):
        decide(spec(fc("a", 10)), lines, holding(a="A"), max_parcels=max_parcels)


def test_unknown_skus_are_listed_once_in_order_of_appearance() -> None:
    lines = [OrderLine(sku, 1) for sku in ("X-2", "SKU-0001", "X-1", "X-2")]
    assert unknown_skus(lines, {"SKU-0001"}) == ["X-2", "X-1"]
    assert unknown_skus(lines[1:2], {"SKU-0001"}) == []
