"""`doms bench system`'s pure pieces: its arguments, the stack's processes by command line,
CPU shares, the ample-stock network, and the verdicts on the targets."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from doms.bench import phase_names, positive_floats
from doms.bench_stack import StackError, ample_stock, bench_network_file, cores_used, role_of
from doms.bench_system import met_target
from doms.cli import build_parser
from doms.network_file import load_network_spec


def test_system_arguments_default_to_the_issue_s_benchmark() -> None:
    args = build_parser().parse_args(["bench", "system"])

    assert (args.orders, args.baseline_workflows, args.in_flight) == (1000, 1000, 10_000)
    assert args.rates == [50, 100, 200]
    assert (args.rate_seconds, args.skip) == (10, [])


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
