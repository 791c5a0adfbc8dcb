"""`doms bench sourcing`: a 20-centre network whose stock forces splits, timed per decision."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from domain.network_spec import NetworkSpec, default_network_spec
from domain.sourcing import SourcingDecision, source
from doms.bench import (
    SOURCING_CENTRES,
    SOURCING_LINES,
    SourcingInput,
    measure_sourcing,
    run_sourcing,
    sourcing_bench_spec,
    sourcing_inputs,
)
from doms.settings import Settings


@pytest.fixture(scope="module")
def bench_spec() -> NetworkSpec:
    return sourcing_bench_spec(default_network_spec(), seed=1)


def test_the_bench_network_grows_the_default_one_to_twenty_centres(bench_spec: NetworkSpec) -> None:
    ids = bench_spec.network.ids()
    assert len(ids) == SOURCING_CENTRES
    assert set(default_network_spec().network.ids()) <= set(ids)
    assert "bench-los-angeles" in ids


def test_the_hub_holds_what_the_regional_centres_hold_together(bench_spec: NetworkSpec) -> None:
    hub = bench_spec.network.central().id
    regional = bench_spec.network.regional()
    for sku in bench_spec.skus[:5]:
        held = sum(bench_spec.initial_stock[(fc.id, sku)] for fc in regional)
        assert bench_spec.initial_stock[(hub, sku)] == held


def test_orders_have_ten_distinct_skus_and_many_need_a_split(bench_spec: NetworkSpec) -> None:
    inputs = sourcing_inputs(bench_spec, 200, seed=1)
    assert all(len({line.sku for line in order.lines}) == SOURCING_LINES for order in inputs)
    latencies, parcels = measure_sourcing(bench_spec, inputs)
    assert len(latencies) == 200 and sum(parcels.values()) == 200
    assert sum(count for n, count in parcels.items() if n > 1) > 60


def test_the_same_seed_gives_the_same_orders_and_decisions(bench_spec: NetworkSpec) -> None:
    first, again = sourcing_inputs(bench_spec, 20, seed=3), sourcing_inputs(bench_spec, 20, seed=3)
    assert first == again

    def decide(o: SourcingInput) -> SourcingDecision:
        stock = bench_spec.initial_stock
        return source(bench_spec, o.mode, o.order_type, o.destination, o.lines, stock, o.backlog)

    assert [decide(o) for o in first] == [decide(o) for o in again]


def test_the_benchmark_prints_percentiles_and_the_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figures.json"
    args = argparse.Namespace(decisions=300, seed=42, json=out)
    assert run_sourcing(Settings(), args) == 0
    printed = capsys.readouterr().out
    assert "latency p99" in printed and "target        p99 <= 2 ms" in printed
    figures = json.loads(out.read_text())
    assert figures["benchmark"] == "sourcing" and figures["decisions"] == 300
    assert figures["centres"] == SOURCING_CENTRES and figures["target_p99_ms"] == 2.0
