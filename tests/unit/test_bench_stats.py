"""`doms bench intake` figures: nearest-rank percentiles, progress, and errors counted apart."""

from __future__ import annotations

from typing import Any

import pytest

from doms.bench import (
    measure_intake,
    nearest_rank,
    progress_points,
    rate_limit_note,
    result_block,
    summarize,
)
from loadtest.orders import OrderGenerator


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(1, 1.0), (7, 7.0), (50, 50.0), (95, 95.0), (99, 99.0), (99.5, 100.0), (100, 100.0)],
)
def test_nearest_rank_of_one_to_a_hundred_is_the_rank_itself(
    percent: float, expected: float
) -> None:
    assert nearest_rank([float(n) for n in range(100, 0, -1)], percent) == expected


def test_nearest_rank_rounds_the_rank_up_and_returns_one_of_the_values() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]  # the textbook example of the method

    assert [nearest_rank(values, p) for p in (5, 30, 40, 50, 100)] == [15, 20, 20, 35, 50]


def test_nearest_rank_of_a_single_value_is_that_value() -> None:
    assert nearest_rank([3.5], 1) == nearest_rank([3.5], 99) == 3.5


@pytest.mark.parametrize(("values", "percent"), [([], 50), ([1.0], 0), ([1.0], 101)])
def test_nearest_rank_refuses_what_has_no_answer(values: list[float], percent: float) -> None:
    with pytest.raises(ValueError):
        nearest_rank(values, percent)


def test_progress_is_reported_every_tenth_and_at_the_end() -> None:
    assert progress_points(100) == {10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
    assert progress_points(20) == {2, 4, 6, 8, 10, 12, 14, 16, 18, 20}
    assert progress_points(3) == {1, 2, 3}


def test_intake_posts_every_order_once_in_sequence_and_reports_progress() -> None:
    posted: list[dict[str, Any]] = []
    reports: list[str] = []

    def post_order(body: dict[str, Any]) -> str:
        posted.append(body)
        return "201"

    latencies, outcomes, elapsed = measure_intake(post_order, OrderGenerator(5), 20, reports.append)

    expected = OrderGenerator(5)
    assert posted == [expected.next_order() for _ in range(20)]
    assert outcomes == ["201"] * 20 and len(latencies) == 20
    assert all(latency >= 0 for latency in latencies) and elapsed >= sum(latencies) / 1000
    assert len(reports) == 10 and reports[-1].split() == ["20/20", "100%"]


def test_errors_are_every_outcome_but_201_and_do_not_count_as_throughput() -> None:
    outcomes = ["201", "409", "201", "ReadTimeout", "500", "409"]
    latencies = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]

    figures = summarize("http://api", 42, latencies, outcomes, elapsed=2.0)

    assert (figures.orders, figures.errors) == (6, 4)
    assert figures.errors_by_outcome == {"409": 2, "500": 1, "ReadTimeout": 1}
    assert figures.orders_per_second == 1.0  # two placed in two seconds
    assert (figures.p50_ms, figures.p95_ms, figures.p99_ms) == (30.0, 60.0, 60.0)
    assert (figures.mean_ms, figures.max_ms) == (35.0, 60.0)


def test_the_result_block_shows_each_figure_with_its_unit() -> None:
    figures = summarize("http://api", 42, [12.0, 14.0], ["201", "409"], elapsed=1.0)

    block = result_block(figures).splitlines()

    assert block[0].split() == ["orders", "2"]
    assert block[1].split() == ["errors", "1", "(409:", "1)"]
    assert block[2].split() == ["latency", "p50", "12.0", "ms"]
    assert block[-1].split() == ["throughput", "1.0", "orders/s"]


def test_orders_refused_by_the_rate_limit_are_pointed_out() -> None:
    assert rate_limit_note(["201", "409", "503"]) is None
    note = rate_limit_note(["201", "429", "429"])
    assert note is not None and note.startswith("2 orders were refused")
    assert "DOMS_RATE_LIMIT_PER_SECOND=0" in note
