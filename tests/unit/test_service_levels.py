from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.orders import OrderType
from domain.service_levels import (
    DEFAULT_SERVICE_LEVELS,
    ServiceLevel,
    promised_hours,
    transit_hours,
)

STANDARD = DEFAULT_SERVICE_LEVELS[OrderType.STANDARD]
EXPEDITED = DEFAULT_SERVICE_LEVELS[OrderType.EXPEDITED]
INTERNATIONAL = DEFAULT_SERVICE_LEVELS[OrderType.INTERNATIONAL]
distances = st.floats(min_value=0, max_value=20_000)
handling = st.floats(min_value=0, max_value=100)
levels = st.sampled_from(list(DEFAULT_SERVICE_LEVELS.values()))


def test_every_order_type_has_a_service_level() -> None:
    assert set(DEFAULT_SERVICE_LEVELS) == set(OrderType)
    assert all(level.order_type is kind for kind, level in DEFAULT_SERVICE_LEVELS.items())


def test_service_levels_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        DEFAULT_SERVICE_LEVELS[OrderType.STANDARD] = EXPEDITED  # type: ignore[index]


def test_standard_transit_is_a_fixed_leg_plus_ground_speed() -> None:
    assert transit_hours(STANDARD, 800) == pytest.approx(1.0 + 10.0)


def test_expedited_travels_twice_as_fast_as_standard() -> None:
    assert transit_hours(EXPEDITED, 800) == pytest.approx(0.5 + 5.0)


def test_international_transit_includes_customs() -> None:
    assert transit_hours(INTERNATIONAL, 6000) == pytest.approx(2.0 + 10.0 + 4.0)


def test_a_negative_distance_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        transit_hours(STANDARD, -1)


def test_the_promise_adds_a_margin_and_rounds_up_to_the_hour() -> None:
    assert promised_hours(1.0, transit_hours(STANDARD, 800), STANDARD) == 14.0  # 1 + 11 + 2
    assert promised_hours(1.0, transit_hours(STANDARD, 804), STANDARD) == 15.0  # 14.05 up


def test_a_level_refuses_a_speed_that_is_not_positive_and_negative_hours() -> None:
    with pytest.raises(ValueError, match=r"speed_kmh: must be positive; customs_hours: must be"):
        ServiceLevel(OrderType.STANDARD, 1.0, 0.0, -1.0, 2.0)


@given(levels, handling, distances)
def test_the_promise_covers_handling_and_transit(
    level: ServiceLevel, handling_hours: float, km: float
) -> None:
    transit = transit_hours(level, km)
    promise = promised_hours(handling_hours, transit, level)
    assert promise >= handling_hours + transit + level.promise_margin_hours
    assert promise.is_integer()


@given(levels, distances, distances)
def test_farther_never_arrives_sooner(level: ServiceLevel, a: float, b: float) -> None:
    near, far = sorted((a, b))
    assert transit_hours(level, near) <= transit_hours(level, far)
