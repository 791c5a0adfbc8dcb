from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.orders import OrderType
from domain.service_levels import (
    SERVICE_LEVELS,
    handling_hours,
    promised_hours,
    transit_hours,
)

distances = st.floats(min_value=0, max_value=20_000)


def test_every_order_type_has_a_service_level() -> None:
    assert set(SERVICE_LEVELS) == set(OrderType)
    assert all(level.order_type is kind for kind, level in SERVICE_LEVELS.items())


def test_service_levels_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        SERVICE_LEVELS[OrderType.STANDARD] = SERVICE_LEVELS[OrderType.EXPEDITED]  # type: ignore[index]


def test_expedited_orders_are_handled_faster_than_standard_ones() -> None:
    assert handling_hours(OrderType.EXPEDITED) < handling_hours(OrderType.STANDARD)


def test_standard_transit_is_a_fixed_leg_plus_ground_speed() -> None:
    assert transit_hours(OrderType.STANDARD, 800) == pytest.approx(1.0 + 10.0)


def test_expedited_travels_twice_as_fast_as_standard() -> None:
    assert transit_hours(OrderType.EXPEDITED, 800) == pytest.approx(0.5 + 5.0)


def test_international_transit_includes_customs() -> None:
    assert transit_hours(OrderType.INTERNATIONAL, 6000) == pytest.approx(2.0 + 10.0 + 4.0)


def test_a_negative_distance_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        transit_hours(OrderType.STANDARD, -1)


def test_the_promise_adds_a_margin_and_rounds_up_to_the_hour() -> None:
    assert promised_hours(OrderType.STANDARD, 800) == 14.0  # 1 + 11 + 2
    assert promised_hours(OrderType.STANDARD, 804) == 15.0  # 14.05 rounds up


@given(st.sampled_from(list(OrderType)), distances)
def test_the_promise_covers_handling_and_transit(order_type: OrderType, km: float) -> None:
    promise = promised_hours(order_type, km)
    assert promise >= handling_hours(order_type) + transit_hours(order_type, km)
    assert promise.is_integer()


@given(st.sampled_from(list(OrderType)), distances, distances)
def test_farther_never_arrives_sooner(order_type: OrderType, a: float, b: float) -> None:
    near, far = sorted((a, b))
    assert transit_hours(order_type, near) <= transit_hours(order_type, far)
