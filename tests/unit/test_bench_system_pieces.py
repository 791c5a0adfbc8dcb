"""`doms bench system`'s pure pieces: its arguments, the stack's processes by command line,
CPU shares and CPU per order, the ample-stock network, and where the report puts them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from doms.bench import phase_names, positive_floats
from doms.bench_counts import OrderCounts
from doms.bench_load import LatencyFigures, RateFigures
from doms.bench_report import cpu_rows, intake_rows
from doms.bench_stack import (
    BENCH,
    CpuUse,
    PhaseCpu,
    StackError,
    ample_stock,
    bench_network_file,
    cores_used,
    role_of,
    stack_names,
)
from doms.bench_system import IntakeRate
from doms.bench_targets import TARGET_RATE_SECONDS
from doms.cli import build_parser
from doms.network_file import load_network_spec


def test_system_arguments_default_to_the_issue_s_benchmark() -> None:
    args = build_parser().parse_args(["bench", "system"])

    assert (args.orders, args.baseline_workflows, args.in_flight) == (1000, 1000, 10_000)
    assert args.rates == [50, 100, 200]
    assert (args.rate_seconds, args.skip) == (TARGET_RATE_SECONDS, [])


def test_system_arguments_parse_rates_and_phases_to_skip() -> None:
    args = build_parser().parse_args(
        ["bench", "system", "--rates", "5, 12.5", "--skip", "memory,intake,memory"]
    )

    assert args.rates == [5, 12.5]
    assert args.skip == ["memory", "intake"]


@pytest.mark.parametrize("text", ["", "5,0", "-1", "fast"])
def test_rates_must_be_positive_numbers(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        positive_floats(text)


@pytest.mark.parametrize("text", ["", "memory,disk", "baseline;e2e"])
def test_only_known_phases_can_be_skipped(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        phase_names(text)


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        (["/venv/bin/python", "-m", "doms", "worker"], "worker"),
        (["/venv/bin/python", "-m", "doms", "api"], "api"),
        (["/venv/bin/temporal", "server", "start-dev", "--ip", "127.0.0.1"], "temporal"),
        (["/venv/bin/python", "-m", "doms", "up"], None),
        (["/venv/bin/python", "-m", "doms", "migrate"], None),
        (["/venv/bin/python", "-m", "doms"], None),
        ([], None),
    ],
)
def test_processes_of_the_stack_are_known_by_their_command_line(
    cmdline: list[str], role: str | None
) -> None:
    assert role_of(cmdline) == role


def test_cores_used_is_cpu_time_per_wall_second() -> None:
    assert cores_used(10.0, 13.0, 2.0) == 1.5
    assert cores_used(1.0, 1.0, 0.0) == 0.0


def test_ample_stock_raises_the_units_of_every_regional_centre() -> None:
    text = "[stock]\nunits_per_sku = 500\n\n[stock.assortment.domestic]\neverywhere = 51\n"

    assert "units_per_sku = 1000000\n" in ample_stock(text, 1_000_000)


def test_ample_stock_refuses_a_network_it_cannot_scale() -> None:
    with pytest.raises(StackError, match="0 `units_per_sku = N` lines"):
        ample_stock("[stock]\n# units_per_sku = 500\n", 1000)


def test_bench_network_is_the_default_network_with_ample_stock(tmp_path: Path) -> None:
    default = load_network_spec(None)

    written = bench_network_file(tmp_path / "network.toml", None, 1_000_000)

    bench = load_network_spec(written)
    assert bench.network == default.network and bench.skus == default.skus
    regional = {fc.id for fc in default.network.regional()}
    assert {
        bench.initial_stock[(fc, sku)] for (fc, sku) in bench.initial_stock if fc in regional
    } <= {0, 1_000_000}


def test_cpu_per_order_is_each_process_s_cpu_time_over_the_orders() -> None:
    used = CpuUse({"temporal": 8.0, "worker": 6.0, "api": 2.0, BENCH: 1.0}, wall_seconds=10.0)

    assert used.ms_per_order(400) == {"temporal": 20.0, "worker": 15.0, "api": 5.0, BENCH: 2.5}
    assert used.ms_per_order(0) == {}
    assert used.cores() == {"temporal": 0.8, "worker": 0.6, "api": 0.2, BENCH: 0.1}


def test_the_stack_is_every_process_but_the_bench_that_loads_it() -> None:
    used = CpuUse({"temporal": 8.0, "worker": 6.0, "api": 2.0, BENCH: 1.0}, wall_seconds=10.0)

    assert stack_names(used.seconds) == ["temporal", "worker", "api"]
    assert used.total_cores(stack_names(used.seconds)) == pytest.approx(1.6)


def test_a_phase_s_cores_are_while_its_load_ran_and_its_cpu_per_order_until_drained() -> None:
    """An intake rate's backlog drains after its last request: the worker's CPU for its
    orders is mostly spent then, so CPU per order counts the whole phase."""
    sending = CpuUse({"worker": 2.0, "api": 3.0}, wall_seconds=5.0)
    drained = CpuUse({"worker": 9.0, "api": 4.0}, wall_seconds=15.0)

    cpu = PhaseCpu.of(sending, drained, completed=1000, accepted=800, stack=["worker", "api"])

    assert cpu.cores == {"worker": 0.4, "api": 0.6}
    assert cpu.stack_cores == pytest.approx(1.0)
    assert cpu.ms_per_order == {"worker": 9.0, "api": 4.0}
    assert cpu.api_ms_per_accepted_order == pytest.approx(5.0)


def test_a_phase_without_the_api_has_no_api_cpu_per_order() -> None:
    used = CpuUse({"temporal": 1.0, BENCH: 1.0}, wall_seconds=1.0)

    assert (
        PhaseCpu.of(used, used, 10, 10, stack=["temporal", BENCH]).api_ms_per_accepted_order is None
    )


def test_the_cpu_rows_give_cores_with_the_stack_s_total_then_ms_per_order() -> None:
    cpu = PhaseCpu({"worker": 0.5, "api": 0.25}, 0.75, {"worker": 10.0, "api": 5.0}, 5.0)

    assert dict(cpu_rows(cpu, cpu_count=2)) == {
        "  CPU (cores)": "worker 0.50, api 0.25; stack 0.75 of 2",
        "  CPU per order": "worker 10.00, api 5.00 ms",
    }
    assert dict(cpu_rows(cpu, 2, per="workflow"))["  CPU per order"].endswith("ms per workflow")


def intake_rate(rate: float, api_ms: float) -> IntakeRate:
    sent = int(rate)
    figures = RateFigures(rate, 1.0, sent, sent, 0, rate, LatencyFigures(1, 2, 3, 4), 0.5)
    cpu = PhaseCpu({"api": 0.5}, 0.5, {"api": api_ms}, api_ms)
    return IntakeRate(figures, 1.0, 0, cpu, OrderCounts.of({"delivered": sent}))


def test_the_api_s_cpu_is_judged_at_the_busiest_rate_and_the_intake_target_at_200() -> None:
    rates = [intake_rate(50, api_ms=2.0), intake_rate(200, api_ms=4.0), intake_rate(100, 3.0)]

    rows = intake_rows(rates, cpu_count=2)

    api_rows = [value for label, value in rows if label == "  API CPU"]
    assert api_rows == [
        "4.00 ms per accepted order; target <= 3 ms: NOT met; moonshot <= 1.5 ms: NOT met"
    ]
    [target] = [value for label, value in rows if label == "  target"]
    assert target.startswith("p95 <= 50 ms at 200/s for 30 s")
    assert [label for label, _ in rows if "/s" in label] == [
        "intake 50/s",
        "intake 200/s",
        "intake 100/s",
    ]


def test_the_pinned_rates_are_labelled_apart() -> None:
    rows = intake_rows([intake_rate(5, api_ms=1.0)], cpu_count=2, pinned=True)

    assert rows[0][0] == "pinned 5/s"
    assert ("  target", "p95 <= 50 ms at 200/s: not run") in rows
