"""`doms sourcing-report`: the three modes on the same generated orders."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest

from domain.catalogue import initial_stock
from domain.network_spec import default_network_spec
from domain.orders import Mode, OrderType
from doms.settings import Settings
from doms.sourcing_report import add_arguments, run, run_report

SPEC = default_network_spec()


def test_each_mode_sources_the_same_orders() -> None:
    report = run(SPEC, orders=300, seed=7)
    assert [figures.mode for figures in report.modes] == list(Mode)
    assert {figures.orders for figures in report.modes} == {300}


def test_regional_centres_ship_much_shorter_distances_than_the_hub() -> None:
    centralized, distributed, hybrid = run(SPEC, orders=500, seed=7).modes
    per_parcel = {f.mode: f.parcel_km / f.parcels for f in (centralized, distributed, hybrid)}
    assert per_parcel[Mode.DISTRIBUTED] < per_parcel[Mode.CENTRALIZED] / 2
    assert per_parcel[Mode.HYBRID] < per_parcel[Mode.CENTRALIZED] / 2


def test_without_depletion_the_default_stock_serves_every_order() -> None:
    centralized, *regional = run(SPEC, orders=300, seed=7, deplete=False).modes
    assert centralized.served == 300
    assert centralized.split_orders == 0 and centralized.parcels == 300
    for figures in regional:
        assert figures.served == 300
        assert figures.parcels == 300 + figures.split_orders  # a split is in two parcels


def test_the_long_tail_makes_the_regional_modes_split_some_orders_and_the_hub_none() -> None:
    centralized, distributed, hybrid = run(SPEC, orders=1000, seed=7, deplete=False).modes
    assert centralized.split_orders == 0
    assert 0 < distributed.split_orders == hybrid.split_orders < 50


def test_with_every_sku_at_every_centre_no_order_splits() -> None:
    full_range = replace(SPEC, initial_stock=initial_stock(SPEC.network, SPEC.skus))
    for figures in run(full_range, orders=1000, seed=7, deplete=False).modes:
        assert figures.split_orders == 0 and figures.parcels == figures.served == 1000


def test_stock_taken_by_served_orders_runs_out_for_later_ones() -> None:
    scarce = replace(SPEC, initial_stock=dict.fromkeys(SPEC.initial_stock, 3))
    assert all(figures.served < 300 for figures in run(scarce, orders=300, seed=7).modes)
    undepleted = run(scarce, orders=300, seed=7, deplete=False)
    assert all(figures.served == 300 for figures in undepleted.modes)


def test_under_load_the_hubs_queue_lengthens_its_promises() -> None:
    idle = run(SPEC, orders=400, seed=7)
    busy = run(SPEC, orders=400, seed=7, orders_per_hour=300)
    standard = OrderType.STANDARD
    assert sum(busy.modes[0].promised[standard]) > sum(idle.modes[0].promised[standard])


def test_the_table_has_a_row_per_mode_and_says_how_it_was_made() -> None:
    table = run(SPEC, orders=50, seed=7).as_table().splitlines()
    assert table[0].split()[:6] == ["mode", "orders", "served", "%", "km/parcel", "split"]
    assert [row.split()[0] for row in table[2:5]] == ["centralized", "distributed", "hybrid"]
    assert table[6].startswith("50 generated orders (seed 7); stock: taken by each served order")


def test_the_command_reports_progress_and_prints_the_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOMS_NETWORK_FILE", raising=False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--orders", "20", "--seed", "3"])
    assert run_report(Settings(), args) == 0
    printed = capsys.readouterr().out
    assert "hybrid            20/20  100%" in printed
    assert "km/parcel" in printed


def test_a_bad_network_file_is_reported_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMS_NETWORK_FILE", "/nonexistent/network.toml")
    args = argparse.Namespace(orders=5, seed=1, no_depletion=False, orders_per_hour=None)
    assert run_report(Settings(), args) == 2
    assert "file not found" in capsys.readouterr().err
