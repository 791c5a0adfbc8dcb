"""The load test's arithmetic: the paper's levels as constant arrival rates, and thresholds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.shape import (
    DEFAULT_SCALE,
    PAPER_RATES,
    enabled,
    optional_float,
    plan_load,
    shape_tick,
    threshold_breaches,
)


def test_the_levels_are_the_papers_rates() -> None:
    assert dict(PAPER_RATES) == {"low": 200.0, "medium": 500.0, "high": 1000.0}


def test_by_default_a_laptop_runs_one_percent_of_the_papers_rate() -> None:
    plans = {level: plan_load(level) for level in PAPER_RATES}

    assert DEFAULT_SCALE == 0.01
    assert {level: plan.orders_per_second for level, plan in plans.items()} == pytest.approx(
        {"low": 2.0, "medium": 5.0, "high": 10.0}
    )


@given(
    st.sampled_from(sorted(PAPER_RATES)),
    st.floats(min_value=0.0001, max_value=2.0),
    st.floats(min_value=0.05, max_value=20.0),
)
def test_the_users_together_place_exactly_the_levels_rate_none_faster_than_allowed(
    level: str, scale: float, per_user: float
) -> None:
    plan = plan_load(level, scale, per_user)

    assert plan.users >= 1
    assert plan.users * plan.orders_per_user_per_second == pytest.approx(plan.orders_per_second)
    assert plan.orders_per_second == pytest.approx(PAPER_RATES[level] * scale)
    assert plan.orders_per_user_per_second <= per_user * (1 + 1e-9)


def test_a_rate_that_divides_evenly_uses_the_fewest_users() -> None:
    plan = plan_load("high", 0.01, max_orders_per_user_per_second=1.0)

    assert (plan.users, plan.orders_per_user_per_second) == (10, 1.0)


def test_a_rate_below_one_user_is_one_slower_user() -> None:
    plan = plan_load("low", 0.001)

    assert plan.users == 1
    assert plan.orders_per_user_per_second == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("level", "scale", "per_user"),
    [("extreme", 0.01, 1.0), ("low", 0.0, 1.0), ("low", -1.0, 1.0), ("low", 0.01, 0.0)],
)
def test_an_impossible_plan_is_refused(level: str, scale: float, per_user: float) -> None:
    with pytest.raises(ValueError):
        plan_load(level, scale, per_user)


def test_a_run_within_its_thresholds_passes() -> None:
    assert threshold_breaches(0.005, 40.0, max_error_ratio=0.01, max_p95_ms=50.0) == []


def test_too_many_errors_breach_the_error_ratio() -> None:
    [breach] = threshold_breaches(0.02, 40.0, max_error_ratio=0.01, max_p95_ms=None)

    assert "error ratio" in breach


def test_a_slow_p95_breaches_its_limit() -> None:
    [breach] = threshold_breaches(0.0, 60.0, max_error_ratio=0.01, max_p95_ms=50.0)

    assert "p95" in breach and "60.0 ms" in breach


def test_both_breaches_are_reported() -> None:
    assert len(threshold_breaches(0.5, 60.0, max_error_ratio=0.01, max_p95_ms=50.0)) == 2


def test_unset_thresholds_and_a_run_without_requests_are_not_checked() -> None:
    assert threshold_breaches(1.0, 9_999.0, max_error_ratio=None, max_p95_ms=None) == []
    assert threshold_breaches(0.0, None, max_error_ratio=0.01, max_p95_ms=1.0) == []


@pytest.mark.parametrize(("text", "value"), [(None, None), ("", None), (" ", None), ("2.5", 2.5)])
def test_an_optional_limit_is_unset_when_empty(text: str | None, value: float | None) -> None:
    assert optional_float(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [(None, True), ("", True), ("1", True), ("on", True), ("0", False), ("False", False)],
)
def test_a_switch_reads_the_usual_spellings(text: str | None, value: bool) -> None:
    assert enabled(text, default=True) is value


def test_a_switch_refuses_anything_else() -> None:
    with pytest.raises(ValueError):
        enabled("maybe")


def test_the_shape_holds_all_the_levels_users_until_the_run_time_is_up() -> None:
    plan = plan_load("medium")  # 5 orders/s from 5 shoppers

    assert shape_tick(plan, elapsed=0.0, run_time=60.0) == (5, 5.0)
    assert shape_tick(plan, elapsed=59.9, run_time=60.0) == (5, 5.0)
    assert shape_tick(plan, elapsed=60.0, run_time=60.0) is None


def test_without_a_run_time_the_shape_runs_until_stopped() -> None:
    assert shape_tick(plan_load("low"), elapsed=1e9, run_time=None) == (2, 2.0)
