from __future__ import annotations

import pytest

from domain.catalogue import (
    DEFAULT_ASSORTMENT,
    DEFAULT_REGIONAL_STOCK,
    DEFAULT_SKU_COUNT,
    AssortmentRule,
    carried_skus,
    default_skus,
    initial_stock,
    sku_code,
)
from domain.network import DEFAULT_NETWORK, FulfilmentCentre, Market, Network

DOMESTIC = ("sea", "oak", "dfw", "ord", "atl", "ewr")
GATEWAYS = ("mia", "ams", "sin")
SKUS = default_skus()


def test_sku_codes_are_zero_padded_to_four_digits() -> None:
    assert sku_code(1) == "SKU-0001"
    assert sku_code(42) == "SKU-0042"
    assert sku_code(9999) == "SKU-9999"


@pytest.mark.parametrize("n", [0, -1])
def test_sku_numbers_start_at_one(n: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        sku_code(n)


def test_the_default_catalogue_runs_from_the_first_to_the_hundredth_sku() -> None:
    skus = default_skus()
    assert len(skus) == DEFAULT_SKU_COUNT == 100
    assert (skus[0], skus[-1]) == ("SKU-0001", "SKU-0100")
    assert len(set(skus)) == len(skus)


def test_every_regional_centre_starts_with_the_same_stock_of_every_sku() -> None:
    stock = initial_stock(DEFAULT_NETWORK, ["SKU-0001", "SKU-0002"])
    for fc in DEFAULT_NETWORK.regional():
        assert stock[(fc.id, "SKU-0001")] == stock[(fc.id, "SKU-0002")] == DEFAULT_REGIONAL_STOCK


def test_the_central_centre_holds_as_much_as_all_regional_centres_together() -> None:
    stock = initial_stock(DEFAULT_NETWORK, ["SKU-0001"], per_regional=10)
    central = stock[("mci", "SKU-0001")]
    regional = sum(stock[(fc.id, "SKU-0001")] for fc in DEFAULT_NETWORK.regional())
    assert central == regional == 10 * len(DEFAULT_NETWORK.regional())


def test_a_regional_centre_may_start_with_its_own_figure_and_the_hub_follows() -> None:
    stock = initial_stock(DEFAULT_NETWORK, ["SKU-0001"], per_regional=10, per_centre={"sin": 4})
    assert stock[("sin", "SKU-0001")] == 4
    assert stock[("sea", "SKU-0001")] == 10
    assert stock[("mci", "SKU-0001")] == 10 * (len(DEFAULT_NETWORK.regional()) - 1) + 4


@pytest.mark.parametrize("fc_id", ["mci", "lax"])
def test_only_regional_centres_take_their_own_figure(fc_id: str) -> None:
    with pytest.raises(ValueError, match="regional centres only"):
        initial_stock(DEFAULT_NETWORK, ["SKU-0001"], per_centre={fc_id: 1})


def test_only_the_given_skus_are_stocked() -> None:
    stock = initial_stock(DEFAULT_NETWORK, default_skus(3))
    assert len(stock) == 3 * len(DEFAULT_NETWORK.centres)
    assert {sku for _, sku in stock} == {"SKU-0001", "SKU-0002", "SKU-0003"}


def test_stock_cannot_start_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        initial_stock(DEFAULT_NETWORK, ["SKU-0001"], per_regional=-1)
    with pytest.raises(ValueError, match=r"negative, got \['ams'\]"):
        initial_stock(DEFAULT_NETWORK, ["SKU-0001"], per_centre={"ams": -1})


def holders(stock: dict[tuple[str, str], int], sku: str) -> set[str]:
    return {fc_id for (fc_id, item), units in stock.items() if item == sku and units > 0}


def test_without_an_assortment_every_regional_centre_carries_every_sku() -> None:
    carried = carried_skus(DEFAULT_NETWORK, SKUS)
    assert set(carried) == {fc.id for fc in DEFAULT_NETWORK.regional()}
    assert set(carried.values()) == {frozenset(SKUS)}


def test_the_fast_movers_are_carried_by_every_regional_centre() -> None:
    stock = initial_stock(DEFAULT_NETWORK, SKUS, assortment=DEFAULT_ASSORTMENT)
    for n in range(1, DEFAULT_ASSORTMENT[Market.DOMESTIC].everywhere + 1):
        assert {stock[(fc_id, sku_code(n))] for fc_id in DOMESTIC} == {DEFAULT_REGIONAL_STOCK}


def test_a_long_tail_sku_is_carried_by_two_regional_centres() -> None:
    stock = initial_stock(DEFAULT_NETWORK, SKUS, assortment=DEFAULT_ASSORTMENT)
    first_tail = DEFAULT_ASSORTMENT[Market.DOMESTIC].everywhere + 1
    for n in range(first_tail, len(SKUS) + 1):
        domestic = holders(stock, sku_code(n)) & set(DOMESTIC)
        assert len(domestic) == 2
        assert {stock[(fc_id, sku_code(n))] for fc_id in domestic} == {DEFAULT_REGIONAL_STOCK}


def test_the_long_tail_is_dealt_round_robin_in_network_order() -> None:
    carried = carried_skus(DEFAULT_NETWORK, SKUS, DEFAULT_ASSORTMENT)
    dealt = [
        sorted((fc_id for fc_id in DOMESTIC if sku_code(n) in carried[fc_id]), key=DOMESTIC.index)
        for n in range(52, 56)
    ]
    assert dealt == [["sea", "oak"], ["dfw", "ord"], ["atl", "ewr"], ["sea", "oak"]]


def test_every_domestic_centre_carries_the_same_share_of_the_long_tail() -> None:
    carried = carried_skus(DEFAULT_NETWORK, SKUS, DEFAULT_ASSORTMENT)
    tail = set(SKUS[DEFAULT_ASSORTMENT[Market.DOMESTIC].everywhere :])
    shares = {len(carried[fc_id] & tail) for fc_id in DOMESTIC}
    assert max(shares) - min(shares) <= 1
    assert sum(len(carried[fc_id] & tail) for fc_id in DOMESTIC) == 2 * len(tail)


def test_a_market_without_a_rule_carries_the_full_range() -> None:
    carried = carried_skus(DEFAULT_NETWORK, SKUS, DEFAULT_ASSORTMENT)
    assert {carried[fc_id] for fc_id in GATEWAYS} == {frozenset(SKUS)}


def test_the_central_centre_holds_the_sum_of_the_regional_units() -> None:
    stock = initial_stock(
        DEFAULT_NETWORK, SKUS, per_centre={"ewr": 700}, assortment=DEFAULT_ASSORTMENT
    )
    for sku in SKUS:
        held = sum(stock[(fc.id, sku)] for fc in DEFAULT_NETWORK.regional())
        assert stock[("mci", sku)] == held
    assert stock[("mci", "SKU-0001")] == 8 * DEFAULT_REGIONAL_STOCK + 700
    assert stock[("mci", "SKU-0054")] == 4 * DEFAULT_REGIONAL_STOCK + 700  # atl, ewr, gateways


def test_every_centre_has_a_figure_for_every_sku_zero_where_it_does_not_carry_it() -> None:
    stock = initial_stock(DEFAULT_NETWORK, SKUS, assortment=DEFAULT_ASSORTMENT)
    assert len(stock) == len(SKUS) * len(DEFAULT_NETWORK.centres)
    assert stock[("ewr", "SKU-0052")] == 0 and stock[("sea", "SKU-0052")] == 500


def small_network(*, both: bool = False) -> Network:
    def centre(fc_id: str, *markets: Market, central: bool = False) -> FulfilmentCentre:
        return FulfilmentCentre(
            fc_id, fc_id, "r", "US", 40.0, -90.0, central=central, markets=frozenset(markets)
        )

    gateway = (Market.DOMESTIC, Market.INTERNATIONAL) if both else (Market.INTERNATIONAL,)
    return Network(
        (
            centre("a", Market.DOMESTIC),
            centre("b", Market.DOMESTIC),
            centre("g", *gateway),
            centre("hub", *Market, central=True),
        )
    )


def test_a_centre_serving_both_markets_carries_what_either_rule_gives_it() -> None:
    rules = {
        Market.DOMESTIC: AssortmentRule(everywhere=1, long_tail_copies=1),
        Market.INTERNATIONAL: AssortmentRule(everywhere=0, long_tail_copies=1),
    }
    carried = carried_skus(small_network(both=True), default_skus(4), rules)
    # domestic pool a, b, g deals SKU-0002..4 one each; the international pool is g alone
    assert carried["a"] == {"SKU-0001", "SKU-0002"}
    assert carried["b"] == {"SKU-0001", "SKU-0003"}
    assert carried["g"] == set(default_skus(4))


def test_a_sku_no_regional_centre_holds_is_not_at_the_hub_either() -> None:
    rules = {Market.DOMESTIC: AssortmentRule(everywhere=1, long_tail_copies=1)}
    stock = initial_stock(
        small_network(), default_skus(3), per_centre={"b": 0, "g": 0}, assortment=rules
    )
    assert stock[("a", "SKU-0002")] == 500 and stock[("hub", "SKU-0002")] == 500
    assert stock[("b", "SKU-0003")] == 0 and stock[("hub", "SKU-0003")] == 0


@pytest.mark.parametrize(
    ("everywhere", "copies", "problem"),
    [
        (-1, 1, "everywhere: must be between 0 and 9999"),
        (1, 0, "long_tail_copies: must be between 1 and 9999"),
    ],
)
def test_a_rule_needs_a_count_and_at_least_one_copy(
    everywhere: int, copies: int, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        AssortmentRule(everywhere, copies)


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (AssortmentRule(101, 1), r"domestic.everywhere: must be between 0 and 100"),
        (AssortmentRule(10, 7), r"domestic.long_tail_copies: must be between 1 and 6"),
    ],
)
def test_a_rule_must_fit_the_catalogue_and_the_markets_centres(
    rule: AssortmentRule, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        initial_stock(DEFAULT_NETWORK, SKUS, assortment={Market.DOMESTIC: rule})
