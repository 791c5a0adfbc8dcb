from __future__ import annotations

import pytest

from domain.catalogue import (
    DEFAULT_REGIONAL_STOCK,
    DEFAULT_SKU_COUNT,
    default_skus,
    initial_stock,
    sku_code,
)
from domain.network import DEFAULT_NETWORK


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
