from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from domain.catalogue import initial_stock
from domain.network import DEFAULT_NETWORK, FulfilmentCentre, Network
from domain.orders import Destination, Mode, OrderLine
from domain.sourcing import (
    Shortage,
    StockLevels,
    eligible_centres,
    rank_candidates,
    shortages,
    unknown_skus,
)

MANHATTAN = Destination("US", "10001", 40.75, -73.99)
BELLEVUE = Destination("US", "98004", 47.61, -122.20)
SKUS = ("SKU-0001", "SKU-0002", "SKU-0003")
FULL_STOCK = initial_stock(DEFAULT_NETWORK, SKUS, per_regional=10)


def ranked_ids(
    destination: Destination,
    lines: list[OrderLine],
    stock: StockLevels = FULL_STOCK,
    mode: Mode = Mode.DISTRIBUTED,
) -> list[str]:
    candidates = rank_candidates(DEFAULT_NETWORK, mode, destination, lines, stock)
    return [c.centre.id for c in candidates]


def without(fc_id: str, sku: str) -> dict[tuple[str, str], int]:
    return {key: units for key, units in FULL_STOCK.items() if key != (fc_id, sku)}


def test_prefers_the_nearest_centre_that_holds_every_line() -> None:
    assert ranked_ids(MANHATTAN, [OrderLine("SKU-0001", 1)])[0] == "ewr"
    assert ranked_ids(BELLEVUE, [OrderLine("SKU-0001", 1)])[0] == "sea"


def test_skips_a_near_centre_missing_one_of_the_lines() -> None:
    lines = [OrderLine("SKU-0001", 1), OrderLine("SKU-0002", 1)]
    ranked = ranked_ids(MANHATTAN, lines, stock=without("ewr", "SKU-0002"))
    assert "ewr" not in ranked
    assert ranked[0] == "ord"


def test_quantities_of_the_same_sku_on_several_lines_add_up() -> None:
    stock = {**FULL_STOCK, ("ewr", "SKU-0001"): 5}
    assert ranked_ids(MANHATTAN, [OrderLine("SKU-0001", 5)], stock)[0] == "ewr"
    split = [OrderLine("SKU-0001", 3), OrderLine("SKU-0001", 3)]
    assert "ewr" not in ranked_ids(MANHATTAN, split, stock)


def test_candidates_come_nearest_first_with_their_distance() -> None:
    candidates = rank_candidates(
        DEFAULT_NETWORK, Mode.DISTRIBUTED, MANHATTAN, [OrderLine("SKU-0001", 1)], FULL_STOCK
    )
    assert [c.centre.id for c in candidates] == ["ewr", "ord", "atl", "dfw", "sea", "oak"]
    assert 10 < candidates[0].distance_km < 20


def test_centralized_mode_only_considers_the_central_centre() -> None:
    ranked = ranked_ids(MANHATTAN, [OrderLine("SKU-0001", 1)], mode=Mode.CENTRALIZED)
    assert ranked == ["mci"]
    assert eligible_centres(DEFAULT_NETWORK, Mode.CENTRALIZED) == (DEFAULT_NETWORK.central(),)


def test_distributed_mode_never_ships_from_the_central_centre() -> None:
    stock = {(fc_id, sku): 0 for fc_id, sku in FULL_STOCK} | {("mci", "SKU-0001"): 100}
    assert ranked_ids(MANHATTAN, [OrderLine("SKU-0001", 1)], stock) == []
    assert eligible_centres(DEFAULT_NETWORK, Mode.DISTRIBUTED) == DEFAULT_NETWORK.regional()


def test_equally_near_centres_are_ranked_by_id() -> None:
    twins = Network(
        (
            FulfilmentCentre("b", "B", "east", "US", 40.0, -75.0),
            FulfilmentCentre("a", "A", "east", "US", 40.0, -75.0),
            FulfilmentCentre("hub", "Hub", "central", "US", 39.0, -94.0, central=True),
        )
    )
    stock = {("a", "SKU-0001"): 1, ("b", "SKU-0001"): 1}
    candidates = rank_candidates(
        twins, Mode.DISTRIBUTED, MANHATTAN, [OrderLine("SKU-0001", 1)], stock
    )
    assert [c.centre.id for c in candidates] == ["a", "b"]


def test_no_candidates_when_no_single_centre_can_serve_the_whole_order() -> None:
    stock = {("ewr", "SKU-0001"): 1, ("ord", "SKU-0002"): 1}
    lines = [OrderLine("SKU-0001", 1), OrderLine("SKU-0002", 1)]
    assert ranked_ids(MANHATTAN, lines, stock) == []


def test_a_shortage_reports_the_most_any_single_centre_has() -> None:
    stock = {("ewr", "SKU-0001"): 2, ("ord", "SKU-0001"): 3, ("mci", "SKU-0001"): 50}
    lines = [OrderLine("SKU-0001", 4)]
    assert shortages(DEFAULT_NETWORK, Mode.DISTRIBUTED, lines, stock) == [
        Shortage("SKU-0001", requested=4, available=3)
    ]
    assert shortages(DEFAULT_NETWORK, Mode.CENTRALIZED, lines, stock) == []


def test_shortages_sum_lines_and_keep_the_order_of_first_appearance() -> None:
    lines = [OrderLine("SKU-0003", 1), OrderLine("SKU-0001", 6), OrderLine("SKU-0003", 1)]
    stock = {("ewr", "SKU-0001"): 5, ("ewr", "SKU-0003"): 1}
    assert shortages(DEFAULT_NETWORK, Mode.DISTRIBUTED, lines, stock) == [
        Shortage("SKU-0003", requested=2, available=1),
        Shortage("SKU-0001", requested=6, available=5),
    ]


def test_a_sku_stocked_nowhere_has_nothing_available() -> None:
    lines = [OrderLine("SKU-9999", 1)]
    assert shortages(DEFAULT_NETWORK, Mode.DISTRIBUTED, lines, FULL_STOCK) == [
        Shortage("SKU-9999", requested=1, available=0)
    ]


def test_unknown_skus_are_listed_once_in_order_of_appearance() -> None:
    lines = [OrderLine(sku, 1) for sku in ("X-2", "SKU-0001", "X-1", "X-2")]
    assert unknown_skus(lines, set(SKUS)) == ["X-2", "X-1"]
    assert unknown_skus(lines[1:2], set(SKUS)) == []


order_lines = st.lists(
    st.builds(OrderLine, st.sampled_from(SKUS), st.integers(min_value=1, max_value=6)),
    min_size=1,
    max_size=5,
)
stock_levels = st.dictionaries(
    st.tuples(st.sampled_from(DEFAULT_NETWORK.ids()), st.sampled_from(SKUS)),
    st.integers(min_value=0, max_value=10),
)
destinations = st.builds(
    Destination,
    st.just("US"),
    st.just("00000"),
    st.floats(min_value=-90, max_value=90),
    st.floats(min_value=-180, max_value=180),
)
modes = st.sampled_from(list(Mode))


@given(modes, destinations, order_lines, stock_levels)
def test_every_ranked_candidate_can_serve_every_line(
    mode: Mode, destination: Destination, lines: list[OrderLine], stock: StockLevels
) -> None:
    wanted = Counter[str]()
    for line in lines:
        wanted[line.sku] += line.quantity
    for candidate in rank_candidates(DEFAULT_NETWORK, mode, destination, lines, stock):
        assert candidate.centre in eligible_centres(DEFAULT_NETWORK, mode)
        for sku, qty in wanted.items():
            assert stock.get((candidate.centre.id, sku), 0) >= qty


@given(modes, destinations, order_lines, stock_levels)
def test_ranking_is_sorted_by_distance(
    mode: Mode, destination: Destination, lines: list[OrderLine], stock: StockLevels
) -> None:
    candidates = rank_candidates(DEFAULT_NETWORK, mode, destination, lines, stock)
    distances = [c.distance_km for c in candidates]
    assert distances == sorted(distances)


@given(modes, destinations, order_lines, stock_levels)
def test_an_order_with_a_shortage_has_no_candidate(
    mode: Mode, destination: Destination, lines: list[OrderLine], stock: StockLevels
) -> None:
    if shortages(DEFAULT_NETWORK, mode, lines, stock):
        assert rank_candidates(DEFAULT_NETWORK, mode, destination, lines, stock) == []
