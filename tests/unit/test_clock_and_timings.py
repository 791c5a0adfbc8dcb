from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.clock import SimClock
from domain.timings import Timings, timings_between

PLACED = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_at_3600x_a_simulated_hour_lasts_one_real_second() -> None:
    clock = SimClock(3600)
    assert clock.real_seconds(1.0) == 1.0
    assert clock.sim_hours(2.5) == 2.5


def test_real_seconds_and_simulated_hours_convert_back_and_forth() -> None:
    clock = SimClock(60)
    assert clock.real_seconds(1.0) == 60.0
    assert clock.sim_hours(clock.real_seconds(7.25)) == pytest.approx(7.25)


@pytest.mark.parametrize("speedup", [0, -1, float("nan")])
def test_speedup_must_be_positive(speedup: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        SimClock(speedup)


def test_each_phase_is_measured_between_its_own_milestones() -> None:
    timings = timings_between(
        placed_at=PLACED,
        allocated_at=PLACED + timedelta(seconds=1),
        shipped_at=PLACED + timedelta(seconds=3),
        delivered_at=PLACED + timedelta(seconds=8),
        speedup=3600,
    )
    assert timings == Timings(order_hours=1.0, shipping_hours=2.0, delivery_hours=5.0)
    assert timings.fulfilment_hours == 8.0


def test_phases_not_reached_yet_are_unknown() -> None:
    timings = timings_between(PLACED, PLACED + timedelta(seconds=2), None, None, speedup=3600)
    assert timings == Timings(order_hours=2.0, shipping_hours=None, delivery_hours=None)
    assert timings.fulfilment_hours is None


def test_fulfilment_time_needs_every_phase() -> None:
    assert Timings(1.0, 2.0, None).fulfilment_hours is None
    assert Timings(None, 2.0, 3.0).fulfilment_hours is None
    assert Timings(0.1, 0.2, 0.3).fulfilment_hours == 0.6


def test_timings_are_rounded_to_four_decimals() -> None:
    timings = timings_between(PLACED, PLACED + timedelta(seconds=1), None, None, speedup=1)
    assert timings.order_hours == 0.0003  # 1/3600 h
