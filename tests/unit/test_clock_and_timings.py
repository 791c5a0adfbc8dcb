from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.clock import SimClock
from domain.timings import Timings, order_hours, shipping_hours

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


def test_order_time_is_the_measured_sourcing_time_scaled_to_simulated_hours() -> None:
    assert order_hours(PLACED, PLACED + timedelta(seconds=2), speedup=3600) == 2.0


def test_shipping_time_is_modelled_handling_plus_the_measured_wait_for_the_fc() -> None:
    ready = PLACED + timedelta(hours=1)

    on_time = shipping_hours(1.5, ready, ready, speedup=1200)
    after_a_queue = shipping_hours(1.5, ready, ready + timedelta(seconds=6), speedup=1200)

    assert on_time == 1.5
    assert after_a_queue == 3.5  # 6 real s at 1,200x = 2 simulated hours


def test_a_clock_running_backwards_between_processes_never_gives_negative_time() -> None:
    assert order_hours(PLACED, PLACED - timedelta(milliseconds=5), speedup=3600) == 0.0


def test_fulfilment_time_needs_every_phase() -> None:
    assert Timings(1.0, 2.0, None).fulfilment_hours is None
    assert Timings(None, 2.0, 3.0).fulfilment_hours is None
    assert Timings(0.1, 0.2, 0.3).fulfilment_hours == 0.6


def test_timings_are_rounded_to_four_decimals() -> None:
    assert order_hours(PLACED, PLACED + timedelta(seconds=1), speedup=1) == 0.0003  # 1/3600 h
