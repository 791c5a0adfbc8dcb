"""The verdicts `doms bench system` prints on issue 17's targets."""

from __future__ import annotations

import pytest

from doms.bench_counts import OrderCounts
from doms.bench_load import LatencyFigures, RateFigures
from doms.bench_targets import (
    MOONSHOT_API_CPU_MS,
    MOONSHOT_RATIO,
    TARGET_API_CPU_MS,
    TARGET_P95_MS,
    TARGET_RATE,
    TARGET_RATE_SECONDS,
    TARGET_RATIO,
    api_cpu_text,
    cores_text,
    intake_met,
    intake_text,
    met_target,
    ratio_text,
    target_cores,
)


@pytest.mark.parametrize(
    ("value", "at_least", "met"),
    [(1.6, True, True), (1.4, True, False), (49.0, False, True), (51.0, False, False)],
)
def test_targets_are_met_at_least_or_at_most(value: float, at_least: bool, met: bool) -> None:
    target = 1.5 if at_least else 50.0

    assert met_target(value, target, at_least=at_least) == {
        "value": value,
        "target": target,
        "met": met,
    }


def test_a_target_not_measured_is_neither_met_nor_missed() -> None:
    assert met_target(None, 300.0)["met"] is None
    assert met_target(None, 1.0, at_least=True, moonshot=1.5)["moonshot_met"] is None


def test_a_target_can_be_met_while_its_moonshot_is_not() -> None:
    between = (TARGET_RATIO + MOONSHOT_RATIO) / 2

    judged = met_target(between, TARGET_RATIO, at_least=True, moonshot=MOONSHOT_RATIO)

    assert (judged["met"], judged["moonshot_met"]) == (True, False)
    assert ratio_text(between) == (
        f"{between:.2f} x baseline; target >= {TARGET_RATIO:g}: met; "
        f"moonshot >= {MOONSHOT_RATIO:g}: NOT met"
    )


def test_the_api_s_cpu_is_judged_at_most_against_target_and_moonshot() -> None:
    assert api_cpu_text(MOONSHOT_API_CPU_MS).endswith(": met; moonshot <= 1.5 ms: met")
    assert api_cpu_text(TARGET_API_CPU_MS + 0.01).startswith(
        f"{TARGET_API_CPU_MS + 0.01:.2f} ms per accepted order; target <= 3 ms: NOT met"
    )


@pytest.mark.parametrize(
    ("cpus", "used", "met"), [(2, 1.9, True), (2, 1.65, False), (4, 3.7, False)]
)
def test_a_saturated_stack_should_use_all_but_a_twentieth_of_the_machine(
    cpus: int, used: float, met: bool
) -> None:
    assert target_cores(2) == pytest.approx(1.9)
    assert cores_text(used, cpus).endswith(": met" if met else ": NOT met")


def rate(p95_ms: float, errors: int = 0, seconds: float = TARGET_RATE_SECONDS) -> RateFigures:
    sent = int(TARGET_RATE * seconds)
    return RateFigures(
        rate=TARGET_RATE,
        seconds=seconds,
        sent=sent,
        placed=sent - errors,
        errors=errors,
        achieved_per_second=TARGET_RATE,
        latency=LatencyFigures(p95_ms / 2, p95_ms, p95_ms, p95_ms),
        max_send_lag_ms=1.0,
    )


def test_intake_meets_its_target_only_fast_without_errors_and_all_delivered() -> None:
    on_time = rate(TARGET_P95_MS)
    all_delivered = OrderCounts.of({"delivered": on_time.placed})
    one_in_flight = OrderCounts.of({"delivered": on_time.placed - 1, "shipped": 1})

    assert intake_met(on_time, all_delivered)
    assert not intake_met(rate(TARGET_P95_MS + 1), all_delivered)
    assert not intake_met(on_time, one_in_flight)
    with_errors = rate(TARGET_P95_MS, errors=7)
    assert not intake_met(with_errors, OrderCounts.of({"delivered": with_errors.placed}))


def test_intake_says_how_long_it_was_measured_when_shorter_than_the_target() -> None:
    short = rate(10.0, seconds=TARGET_RATE_SECONDS / 3)
    counts = OrderCounts.of({"delivered": short.placed})

    assert f"measured for {short.seconds:g} s" in intake_text(short, counts)
    assert "measured for" not in intake_text(rate(10.0), counts)
    assert intake_text(rate(123.0, errors=7), counts).startswith(
        f"p95 <= {TARGET_P95_MS:g} ms at {TARGET_RATE:g}/s for {TARGET_RATE_SECONDS:g} s, "
        "0 errors, every accepted order delivered: NOT met (p95 123.0 ms, 7 errors"
    )
