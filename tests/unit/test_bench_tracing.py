"""The tracing phase's pieces: the OTLP/HTTP receiver the traced stack exports to, and the
comparison of traced with untraced figures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from doms.bench_load import LatencyFigures
from doms.bench_stack import CpuUse, PhaseCpu, stack_names
from doms.bench_tracing import (
    MACHINE_DRIFT,
    TRACED,
    UNTRACED,
    RateComparison,
    added_ms,
    comparison,
    comparison_rows,
    loss_pct,
    round_sides,
)
from doms.local_system import free_port
from doms.otlp_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port())
    serving = threading.Thread(target=receiver.serve_forever, daemon=True)
    serving.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def receiver_url(receiver: Receiver) -> str:
    host, port = receiver.server_address[:2]
    return f"http://{host!s}:{port}"


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_receiver_counts_the_spans_an_otlp_exporter_sends(
    receiver: Receiver, compression: Compression
) -> None:
    url = receiver_url(receiver)
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=compression)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(__name__)

    with tracer.start_as_current_span("POST /orders"), tracer.start_as_current_span("INSERT"):
        pass
    provider.shutdown()

    assert httpx.get(f"{url}/counts").json() == {"requests": 2, "spans": 2}


def test_the_receiver_refuses_what_is_not_an_export(receiver: Receiver) -> None:
    url = receiver_url(receiver)

    assert httpx.post(f"{url}/v1/traces", content=b"\xff\xff").status_code == 400
    assert httpx.post(f"{url}/v1/metrics", content=b"").status_code == 404
    assert receiver.counts() == {"requests": 0, "spans": 0}


def test_the_loss_is_the_share_of_untraced_throughput_that_tracing_costs() -> None:
    assert loss_pct(50.0, 45.0) == pytest.approx(10.0)
    assert loss_pct(50.0, 51.0) == pytest.approx(-2.0)  # noise: no loss
    with pytest.raises(ValueError):
        loss_pct(0.0, 1.0)


DELIVERED, SECONDS = 400, 10.0
CORES = {"temporal": 0.8, "worker": 0.6, "api": 0.2, "bench": 0.1}


@dataclass(frozen=True)
class E2e:
    """An e2e phase of DELIVERED orders in SECONDS: each core used is 25 ms per order."""

    orders_per_second: float
    cpu_cores: dict[str, float] = field(default_factory=lambda: dict(CORES))

    @property
    def cpu(self) -> PhaseCpu:
        used = CpuUse({n: c * SECONDS for n, c in self.cpu_cores.items()}, SECONDS)
        return PhaseCpu.of(used, used, DELIVERED, DELIVERED, stack_names(self.cpu_cores))


def test_the_verdict_is_the_cpu_tracing_adds_per_order_not_the_throughput_lost() -> None:
    fast, slow = LatencyFigures(4, 8, 9, 12), LatencyFigures(5, 10, 11, 15)
    rates = [RateComparison(50, fast, slow)]
    counts = {"spans": 900, "requests": 3}
    busier = E2e(35.0, cpu_cores={"temporal": 0.8, "worker": 0.8, "api": 0.4, "bench": 0.1})

    # 12.5% of the throughput lost, but no more CPU per order: the machine's noise.
    met = comparison(counts, [(E2e(40.0), E2e(35.0))], rates)
    missed = comparison(counts, [(E2e(40.0), busier)], rates)
    no_rounds = comparison(counts, [], rates)

    assert met.throughput_loss_pct == pytest.approx(12.5)
    assert met.stack_cpu_increase_pct == pytest.approx(0.0)
    assert met.met is True
    assert missed.stack_cpu_increase_pct == pytest.approx(25.0)
    assert missed.met is False
    assert (no_rounds.throughput_loss_pct, no_rounds.met, no_rounds.cpu_ms_per_order) == (
        None,
        None,
        None,
    )
    rows = dict(comparison_rows(missed))
    assert rows["  lost (median)"] == (
        f"12.5% of the throughput, the median of 1 round; within this machine's noise "
        f"({MACHINE_DRIFT}), so not the verdict"
    )
    assert rows["  CPU added"] == (
        "temporal +0.0, worker +5.0, relay +0.0, api +5.0 ms per order "
        "(besides the stack: bench +0.0); "
        "the stack's +10.0 ms is +25.0% of its untraced 40.0 ms; target <= 10%: NOT met"
    )
    assert (
        rows["  e2e (median)"] == "35.0 orders/s traced vs 40.0 untraced (between them 12.5% lost)"
    )
    assert rows["  round 1"] == (
        "35.0 vs 40.0 orders/s (12.5% lost), stack CPU 50.0 vs 40.0 ms/order "
        "(traced vs untraced; untraced then traced)"
    )
    assert rows["  CPU (cores)"] == (
        "stack 2.00 vs 1.60; temporal 0.80 vs 0.80, worker 0.80 vs 0.60, relay 0.00 vs 0.00, "
        "api 0.40 vs 0.20 "
        "(traced vs untraced)"
    )
    assert rows["  CPU per order"] == (
        "+25.0%: temporal 20.0 vs 20.0, worker 20.0 vs 15.0, relay 0.0 vs 0.0, api 10.0 vs 5.0 ms "
        "(traced vs untraced)"
    )
    assert rows["  intake 50/s"] == "p50 5.0 vs 4.0, p95 10.0 vs 8.0 ms (traced vs untraced)"
    assert "900 spans received in 3 export requests" in rows["tracing"]


def test_a_process_only_the_traced_stack_has_adds_all_of_its_cpu() -> None:
    added = added_ms({"worker": 15.0, "api": 5.0}, {"worker": 16.5, "api": 5.0, "otlp": 2.0})

    assert added == {"worker": pytest.approx(1.5), "api": 0.0, "otlp": 2.0}


def test_rounds_are_compared_by_their_medians_so_one_disturbed_round_weighs_little() -> None:
    counts = {"spans": 0, "requests": 0}
    # The second round's untraced stack shared the machine with something else.
    rounds = [(E2e(40.0), E2e(38.0)), (E2e(20.0), E2e(39.0)), (E2e(41.0), E2e(37.0))]

    tracing = comparison(counts, rounds, [])

    assert tracing.orders_per_second == (40.0, 38.0)
    assert [r.orders_per_second for r in tracing.rounds] == [(40, 38), (20, 39), (41, 37)]
    assert tracing.rounds[1].loss_pct == pytest.approx(-95.0)
    # Each round's own loss: 5.0, -95.0, 9.76; their median is the verdict.
    assert tracing.throughput_loss_pct == pytest.approx(5.0)
    assert tracing.sides_loss_pct == pytest.approx(5.0)


def test_the_loss_pairs_neighbours_in_time_so_a_drift_of_the_machine_cancels() -> None:
    counts = {"spans": 0, "requests": 0}
    # The machine slowed down after the first round; the second round's traced side was
    # disturbed on top of that. Each round's own loss: 5.0, 44.4, 5.0.
    rounds = [(E2e(40.0), E2e(38.0)), (E2e(36.0), E2e(20.0)), (E2e(20.0), E2e(19.0))]

    tracing = comparison(counts, rounds, [])

    assert tracing.throughput_loss_pct == pytest.approx(5.0)
    # The sides' medians (36 vs 20 orders/s) come from different moments of the run.
    assert tracing.orders_per_second == (36.0, 20.0)
    assert tracing.sides_loss_pct == pytest.approx(44.4, abs=0.1)


def test_the_throughput_lost_shows_how_widely_the_rounds_losses_spread() -> None:
    pairs = [(40.0, 38.0), (40.0, 36.0), (40.0, 40.0), (40.0, 32.0), (40.0, 42.0)]
    rounds = [(E2e(untraced), E2e(traced)) for untraced, traced in pairs]

    row = dict(comparison_rows(comparison({"spans": 0, "requests": 0}, rounds, [])))

    # losses 5, 10, 0, 20, -5: median 5; quartiles (exclusive method) -2.5 and 15
    assert row["  lost (median)"] == (
        "5.0% of the throughput, the median of 5 rounds (quartiles -2.5 and 15.0%); "
        f"within this machine's noise ({MACHINE_DRIFT}), so not the verdict"
    )


def test_cpu_per_order_is_the_median_of_each_process_and_of_the_stack() -> None:
    def cores(worker: float) -> dict[str, float]:
        return {"temporal": 0.8, "worker": worker, "api": 0.2, "bench": 0.1}

    untraced = [E2e(40.0, cpu_cores=cores(w)) for w in (0.6, 0.4, 0.8)]  # 15, 10, 20 ms
    traced = [E2e(40.0, cpu_cores=cores(w)) for w in (1.2, 0.6, 0.64)]  # 30, 15, 16 ms

    tracing = comparison({"spans": 0, "requests": 0}, list(zip(untraced, traced, strict=True)), [])

    assert tracing.cpu_ms_per_order is not None
    assert tracing.cpu_ms_per_order[0]["worker"] == pytest.approx(15.0)
    assert tracing.cpu_ms_per_order[1]["worker"] == pytest.approx(16.0)
    # stacks (temporal 20 + worker + api 5): 40, 35, 45 untraced; 55, 40, 41 traced
    assert tracing.stack_cpu_increase_pct == pytest.approx(2.5)
    assert tracing.met is True
    added = dict(comparison_rows(tracing))["  CPU added"]
    assert "worker +1.0" in added  # the medians of the processes: 16 vs 15 ms
    assert added.endswith("+1.0 ms is +2.5% of its untraced 40.0 ms; target <= 10%: met")


def test_the_side_going_first_alternates_from_round_to_round() -> None:
    assert [round_sides(index) for index in range(4)] == [
        (UNTRACED, TRACED),
        (TRACED, UNTRACED),
        (UNTRACED, TRACED),
        (TRACED, UNTRACED),
    ]
