"""Handling time: the centre's own time for the order type plus the wait for the orders ahead."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.capacity import backlog_hours, handling_hours
from domain.network import DEFAULT_HANDLING_HOURS, DEFAULT_NETWORK, FulfilmentCentre
from domain.orders import OrderType


def centre(capacity_per_hour: float) -> FulfilmentCentre:
    return FulfilmentCentre("fc", "FC", "east", "US", 40.0, -75.0, False, capacity_per_hour)


def test_an_idle_centre_takes_its_base_handling_time() -> None:
    fc = centre(40)
    assert handling_hours(fc, OrderType.STANDARD, 0) == 1.0
    assert handling_hours(fc, OrderType.EXPEDITED, 0) == 0.5
    assert handling_hours(fc, OrderType.INTERNATIONAL, 0) == 1.5


def test_handling_grows_with_backlog_over_capacity() -> None:
    fc = centre(40)
    assert handling_hours(fc, OrderType.STANDARD, 20) == pytest.approx(1.0 + 0.5)
    assert handling_hours(fc, OrderType.STANDARD, 80) == pytest.approx(1.0 + 2.0)


def test_the_same_backlog_costs_a_bigger_centre_less_time() -> None:
    assert backlog_hours(centre(100), 50) < backlog_hours(centre(25), 50)
    assert backlog_hours(centre(100), 50) == 0.5


def test_the_central_centre_alone_queues_longer_than_the_regional_ones_sharing_the_work() -> None:
    waiting = 600
    hub, regional = DEFAULT_NETWORK.central(), DEFAULT_NETWORK.regional()
    total = sum(fc.capacity_per_hour for fc in regional)
    shares = {fc.id: round(waiting * fc.capacity_per_hour / total) for fc in regional}
    slowest = max(backlog_hours(fc, shares[fc.id]) for fc in regional)
    assert backlog_hours(hub, waiting) == 4.0
    assert slowest < 2.5


def test_a_centre_can_handle_order_types_in_its_own_time() -> None:
    fast = FulfilmentCentre(
        "fc",
        "FC",
        "east",
        "US",
        40.0,
        -75.0,
        handling_hours={**DEFAULT_HANDLING_HOURS, OrderType.STANDARD: 0.25},
    )
    assert handling_hours(fast, OrderType.STANDARD, 0) == 0.25


def test_a_negative_backlog_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        handling_hours(centre(40), OrderType.STANDARD, -1)


@given(st.sampled_from(list(OrderType)), st.integers(0, 10_000), st.integers(0, 10_000))
def test_more_orders_ahead_never_means_a_shorter_wait(kind: OrderType, a: int, b: int) -> None:
    fewer, more = sorted((a, b))
    fc = centre(40)
    assert handling_hours(fc, kind, fewer) <= handling_hours(fc, kind, more)
