"""The tracing phase of `doms bench system`: what tracing every order costs.

On this machine the same stack's throughput drifts by 10-25 % within minutes, as other work
comes and goes, and that is more than tracing costs: one untraced phase against one traced
phase says little, and so do medians of untraced and traced stacks run minutes apart. The
phase therefore keeps two stacks up side by side, one untraced and one traced (tracing on
at 100% sampling, spans over OTLP/HTTP to a receiver the bench starts,
doms/otlp_receiver.py, a process of its own), and runs rounds: in each, the two take the
same orders end to end in turn, seconds apart, the one going first alternating from round
to round (U T, T U, U T...). Each round's loss compares neighbours in time, so a drift
weighs on both alike; the verdict is the median of the rounds' losses. Target: at most 10%
of the throughput lost. The traced stack then also runs the intake rates, compared with the
fast stack's POST /orders latencies.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median, quantiles
from typing import Protocol

import httpx

from doms.bench_load import LatencyFigures
from doms.bench_stack import ROLES, StackError
from doms.local_system import free_port

# Every order is traced: its requests carry no trace context, so each starts a sampled trace
# that its later steps join. The bench's own polling (UNSAMPLED_TRACEPARENT) is not traced.
SAMPLER = "parentbased_always_on"
UNTRACED, TRACED = "untraced", "traced"
TARGET_LOSS_PCT = 10.0
RECEIVER_START_SECONDS = 15.0


def traced_settings(endpoint: str) -> dict[str, str]:
    """The OTEL_* settings of the traced stack: every order's spans, over OTLP/HTTP to
    `endpoint`."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": SAMPLER,
    }


@dataclass(frozen=True)
class RunningReceiver:
    url: str
    process: subprocess.Popen[bytes]

    def counts(self) -> dict[str, int]:
        """Spans and export requests received so far."""
        counts: dict[str, int] = httpx.get(f"{self.url}/counts", timeout=5).json()
        return counts


@contextmanager
def running_receiver(log: Path) -> Iterator[RunningReceiver]:
    """doms/otlp_receiver.py on a free port, stopped on exit."""
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "doms.otlp_receiver", str(port)], stdout=output, stderr=output
        )
    receiver = RunningReceiver(f"http://127.0.0.1:{port}", process)
    try:
        _wait_ready(receiver, log)
        yield receiver
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_ready(receiver: RunningReceiver, log: Path) -> None:
    deadline = time.monotonic() + RECEIVER_START_SECONDS
    while time.monotonic() < deadline:
        if receiver.process.poll() is not None:
            raise StackError(f"the OTLP receiver exited with {receiver.process.returncode}")
        try:
            receiver.counts()
            return
        except httpx.TransportError:
            time.sleep(0.1)  # a polling interval, not a synchronisation
    raise StackError(f"the OTLP receiver did not answer within {RECEIVER_START_SECONDS:g} s")


def change_pct(untraced: float, traced: float) -> float:
    """How much tracing changed a figure, in % of its untraced value."""
    if untraced <= 0:
        raise ValueError(f"an untraced figure of {untraced} leaves nothing to compare")
    return (traced - untraced) * 100 / untraced


def loss_pct(untraced: float, traced: float) -> float:
    """The share of the untraced throughput that tracing lost, in %; negative if none."""
    return -change_pct(untraced, traced)


@dataclass(frozen=True)
class RateComparison:
    rate: float
    untraced: LatencyFigures
    traced: LatencyFigures


class EndToEnd(Protocol):
    """What the comparison reads of an e2e phase (bench_system.EndToEndFigures)."""

    @property
    def orders_per_second(self) -> float: ...
    @property
    def delivered(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def cpu_cores(self) -> dict[str, float]: ...


def cpu_ms_per_order(e2e: EndToEnd) -> dict[str, float]:
    """The CPU milliseconds each process spent per delivered order. Unlike orders/s, this
    hardly moves when other work shares the machine."""
    if e2e.delivered == 0:
        return {}
    scale = e2e.seconds * 1000 / e2e.delivered
    return {name: round(cores * scale, 2) for name, cores in e2e.cpu_cores.items()}


def stack_cpu_ms(per_order: dict[str, float]) -> float:
    return sum(per_order.get(role, 0.0) for role in ROLES)


def round_sides(index: int) -> tuple[str, str]:
    """Which stack of round `index` (from 0) runs first: untraced in even rounds, traced in
    odd ones, so neither side always has the machine's earlier (or later) state."""
    return (UNTRACED, TRACED) if index % 2 == 0 else (TRACED, UNTRACED)


@dataclass(frozen=True)
class RoundFigures:
    """One round's end-to-end throughput and stack CPU per order, untraced and traced."""

    orders_per_second: tuple[float, float]
    stack_cpu_ms_per_order: tuple[float, float]

    @property
    def loss_pct(self) -> float:
        return loss_pct(*self.orders_per_second)


@dataclass(frozen=True)
class TracingComparison:
    sampler: str
    spans_received: int
    export_requests: int
    rounds: list[RoundFigures]
    # The medians of the rounds, untraced then traced; None when no round ran.
    orders_per_second: tuple[float, float] | None
    throughput_loss_pct: float | None  # the median of the rounds' own losses: what is judged
    sides_loss_pct: float | None  # between the sides' medians, for comparison
    cpu_ms_per_order: tuple[dict[str, float], dict[str, float]] | None  # per process
    stack_cpu_increase_pct: float | None  # Temporal, worker and API together
    intake: list[RateComparison]
    target_loss_pct: float = TARGET_LOSS_PCT

    @property
    def met(self) -> bool | None:
        loss = self.throughput_loss_pct
        return None if loss is None else loss <= self.target_loss_pct


def comparison(
    counts: dict[str, int],
    rounds: Sequence[tuple[EndToEnd, EndToEnd]],
    intake: list[RateComparison],
) -> TracingComparison:
    """`rounds`: each round's end-to-end figures, untraced then traced. Judged by the median
    of the rounds' losses: a pair seconds apart shares the machine's state, and one round
    disturbed by the machine moves a median less than a mean."""
    figures = [
        RoundFigures(
            (untraced.orders_per_second, traced.orders_per_second),
            (stack_cpu_ms(cpu_ms_per_order(untraced)), stack_cpu_ms(cpu_ms_per_order(traced))),
        )
        for untraced, traced in rounds
    ]
    rates = cpu = stack_cpu = None
    if rounds:
        rates = _medians([r.orders_per_second for r in figures])
        stack_cpu = _medians([r.stack_cpu_ms_per_order for r in figures])
        cpu = (
            median_per_process([cpu_ms_per_order(untraced) for untraced, _ in rounds]),
            median_per_process([cpu_ms_per_order(traced) for _, traced in rounds]),
        )
    return TracingComparison(
        sampler=SAMPLER,
        spans_received=counts["spans"],
        export_requests=counts["requests"],
        rounds=figures,
        orders_per_second=rates,
        throughput_loss_pct=median(r.loss_pct for r in figures) if figures else None,
        sides_loss_pct=loss_pct(*rates) if rates else None,
        cpu_ms_per_order=cpu,
        stack_cpu_increase_pct=change_pct(*stack_cpu) if stack_cpu else None,
        intake=intake,
    )


def _medians(pairs: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The median of the untraced and of the traced side."""
    return median(pair[0] for pair in pairs), median(pair[1] for pair in pairs)


def median_per_process(rounds: Sequence[dict[str, float]]) -> dict[str, float]:
    names = dict.fromkeys(name for figures in rounds for name in figures)
    return {name: median(figures.get(name, 0.0) for figures in rounds) for name in names}


def comparison_rows(tracing: TracingComparison) -> list[tuple[str, str]]:
    rows = [
        (
            "tracing",
            f"sampler {tracing.sampler}, OTLP/HTTP: {tracing.spans_received} spans received "
            f"in {tracing.export_requests} export requests",
        )
    ]
    for number, figures in enumerate(tracing.rounds, start=1):
        (untraced, traced), (cpu_untraced, cpu_traced) = (
            figures.orders_per_second,
            figures.stack_cpu_ms_per_order,
        )
        rows.append(
            (
                f"  round {number}",
                f"{traced:.1f} vs {untraced:.1f} orders/s ({figures.loss_pct:.1f}% lost), "
                f"stack CPU {cpu_traced:.1f} vs {cpu_untraced:.1f} ms/order "
                f"(traced vs untraced; {' then '.join(round_sides(number - 1))})",
            )
        )
    if tracing.throughput_loss_pct is not None:
        verdict = "met" if tracing.met else "NOT met"
        rounds = f"{len(tracing.rounds)} round{'' if len(tracing.rounds) == 1 else 's'}"
        rows.append(
            (
                "  lost (median)",
                f"{tracing.throughput_loss_pct:.1f}% of the throughput, the median of "
                f"{rounds}{_quartiles(tracing.rounds)}; "
                f"target <= {tracing.target_loss_pct:g}%: {verdict}",
            )
        )
    if tracing.orders_per_second is not None and tracing.sides_loss_pct is not None:
        untraced, traced = tracing.orders_per_second
        rows.append(
            (
                "  e2e (median)",
                f"{traced:.1f} orders/s traced vs {untraced:.1f} untraced "
                f"(between them {tracing.sides_loss_pct:.1f}% lost)",
            )
        )
    if tracing.cpu_ms_per_order is not None and tracing.stack_cpu_increase_pct is not None:
        increase = f"{tracing.stack_cpu_increase_pct:+.1f}%"
        rows.append(("  CPU per order", f"{increase}: {_cpu_per_order(*tracing.cpu_ms_per_order)}"))
    for rate in tracing.intake:
        rows.append(
            (
                f"  intake {rate.rate:g}/s",
                f"p50 {rate.traced.p50_ms:.1f} vs {rate.untraced.p50_ms:.1f}, "
                f"p95 {rate.traced.p95_ms:.1f} vs {rate.untraced.p95_ms:.1f} ms "
                "(traced vs untraced)",
            )
        )
    return rows


def _quartiles(rounds: Sequence[RoundFigures]) -> str:
    """The spread of the rounds' losses, which says how far to trust their median."""
    if len(rounds) < 4:
        return ""
    lower, _, upper = quantiles([r.loss_pct for r in rounds], n=4)
    return f" (quartiles {lower:.1f} and {upper:.1f}%)"


def _cpu_per_order(untraced: dict[str, float], traced: dict[str, float]) -> str:
    parts = [f"{role} {traced.get(role, 0):.1f} vs {untraced.get(role, 0):.1f}" for role in ROLES]
    return f"{', '.join(parts)} ms (traced vs untraced)"
