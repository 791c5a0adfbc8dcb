"""The load generator's orders: reproducible, in the asked mix, sent where their type allows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from api.schemas import OrderCreate
from domain.countries import HOME_COUNTRY
from domain.orders import destination_error
from loadtest.orders import (
    DEFAULT_MIX,
    FOREIGN_CITIES,
    US_METROS,
    OrderGenerator,
    parse_mix,
    user_seed,
)

SAMPLE_SIZE = 10_000


def orders(seed: int, count: int = SAMPLE_SIZE, **kwargs: Any) -> list[dict[str, Any]]:
    generator = OrderGenerator(seed, **kwargs)
    return [generator.next_order() for _ in range(count)]


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return orders(seed=7)


def test_the_same_seed_gives_the_same_orders() -> None:
    assert orders(seed=42, count=200) == orders(seed=42, count=200)


def test_different_seeds_give_different_orders() -> None:
    assert orders(seed=1, count=50) != orders(seed=2, count=50)


def test_order_types_follow_the_default_mix(sample: list[dict[str, Any]]) -> None:
    counts = Counter(order["order_type"] for order in sample)

    for order_type, share in DEFAULT_MIX.items():
        # 10,000 draws: the standard error of a 10% share is 0.3 points; 1.5 is five of them.
        assert counts[order_type] / SAMPLE_SIZE == pytest.approx(share, abs=0.015)


def test_a_custom_mix_is_followed_and_may_leave_types_out() -> None:
    counts = Counter(o["order_type"] for o in orders(seed=3, mix={"expedited": 1, "standard": 3}))

    assert set(counts) == {"standard", "expedited"}
    assert counts["expedited"] / SAMPLE_SIZE == pytest.approx(0.25, abs=0.015)


def test_a_mix_naming_an_unknown_order_type_is_refused() -> None:
    with pytest.raises(ValueError, match="teleport"):
        OrderGenerator(1, mix={"standard": 1, "teleport": 1})


def test_international_orders_leave_the_country_and_the_others_stay(
    sample: list[dict[str, Any]],
) -> None:
    for order in sample:
        international = order["order_type"] == "international"
        assert (order["destination"]["country"] != HOME_COUNTRY) == international, order


def test_every_order_passes_the_api_validation_and_the_destination_rule(
    sample: list[dict[str, Any]],
) -> None:
    for body in sample:
        order = OrderCreate.model_validate(body)
        assert destination_error(order.order_type, order.destination.country) is None


def test_orders_hold_one_to_three_distinct_skus_of_one_to_three_units(
    sample: list[dict[str, Any]],
) -> None:
    for order in sample:
        skus = [line["sku"] for line in order["lines"]]
        assert 1 <= len(skus) <= 3 and len(set(skus)) == len(skus)
        assert all(1 <= line["quantity"] <= 3 for line in order["lines"])


def test_popular_skus_are_ordered_more_often(sample: list[dict[str, Any]]) -> None:
    lines = Counter(line["sku"] for order in sample for line in order["lines"])

    assert lines["SKU-0001"] > lines["SKU-0002"] > lines["SKU-0010"] > lines["SKU-0100"] > 0
    assert set(lines) <= {f"SKU-{n:04d}" for n in range(1, 101)}


def test_big_metros_receive_more_orders_than_small_ones(sample: list[dict[str, Any]]) -> None:
    postal_codes = Counter(order["destination"]["postal_code"] for order in sample)
    (biggest, _), (smallest, _) = US_METROS[0], US_METROS[-1]

    assert postal_codes[biggest.postal_code] > 3 * postal_codes[smallest.postal_code] > 0


def test_every_foreign_city_receives_orders(sample: list[dict[str, Any]]) -> None:
    countries = Counter(order["destination"]["country"] for order in sample)

    assert all(countries[city.country] > 0 for city in FOREIGN_CITIES)


def test_customers_are_named_c_dash_number(sample: list[dict[str, Any]]) -> None:
    assert all(order["customer_id"].removeprefix("c-").isdigit() for order in sample)


def test_user_seeds_differ_per_user_and_repeat_per_run() -> None:
    seeds = {user_seed(42, worker, user) for worker in range(3) for user in range(100)}

    assert len(seeds) == 300
    assert user_seed(42, 0, 5) == user_seed(42, 0, 5) != user_seed(43, 0, 5)


def test_an_order_mix_is_read_from_type_weight_pairs() -> None:
    assert parse_mix(" standard=0.5, expedited=0.5 ") == {"standard": 0.5, "expedited": 0.5}


@pytest.mark.parametrize("text", ["", "standard", "overnight=1", "standard=lots"])
def test_an_unreadable_order_mix_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mix(text)


def test_a_parsed_mix_drives_the_generator() -> None:
    generated = orders(seed=3, count=200, mix=parse_mix("expedited=1"))

    assert {order["order_type"] for order in generated} == {"expedited"}
