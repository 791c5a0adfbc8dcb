"""The tracing phase of `doms bench system`: what tracing every order costs.

On this machine the same stack's throughput drifts by 10-25 % within minutes, as other work
comes and goes, and that is more than tracing costs: one untraced phase against one traced
phase says little, and so do medians of untraced and traced stacks run minutes apart. The
phase therefore keeps two stacks up side by side, one untraced and one traced (tracing on
at 100% sampling, spans over OTLP/HTTP to a receiver the bench starts,
doms/otlp_receiver.py, a process of its own), and runs rounds: in each, the two take the
same orders end to end in turn, seconds apart, the one going first alternating from round
to round (U T, T U, U T...). Each round's loss compares neighbours in time, so a drift
weighs on both alike, and the median of the rounds' losses is printed; even so it stays
within the machine's noise. The verdict is therefore the CPU per order tracing adds to the
stack's processes (the medians of the rounds), which is stable: at most 10% more. The
traced stack then also runs the intake rates, compared with the fast stack's POST /orders
latencies.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median, quantiles
from typing import Protocol

import httpx

from doms.bench_load import LatencyFigures
from doms.bench_stack import ROLES, PhaseCpu, StackError
from doms.local_system import free_port

# Every order is traced: its requests carry no trace context, so each starts a sampled trace
# that its later steps join. The bench polls its order counts from the database, not the API,
# so its polling is no part of any trace.
SAMPLER = "parentbased_always_on"
UNTRACED, TRACED = "untraced", "traced"
# The verdict: at most this much more CPU per order for the stack, traced than untraced. On a
# CPU-bound stack it would cost about as much of the throughput; unlike the throughput, it is
# stable on these machines.
TARGET_CPU_INCREASE_PCT = 10.0
MACHINE_DRIFT = "one stack's throughput drifts by 10-25% within minutes"
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
    def cpu(self) -> PhaseCpu: ...


def stack_total(per_process: dict[str, float]) -> float:
    """Temporal's, the worker's and the API's figures together (CPU per order, or cores)."""
    return sum(per_process.get(role, 0.0) for role in ROLES)


def added_ms(untraced: dict[str, float], traced: dict[str, float]) -> dict[str, float]:
    """The CPU milliseconds per order tracing added to each process; a process only the
    traced side has (the OTLP receiver) adds all of its own."""
    names = dict.fromkeys([*untraced, *traced])
    return {name: round(traced.get(name, 0.0) - untraced.get(name, 0.0), 2) for name in names}


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
    throughput_loss_pct: float | None  # the median of the rounds' own losses: in the noise
    sides_loss_pct: float | None  # between the sides' medians, for comparison
    cpu_cores: tuple[dict[str, float], dict[str, float]] | None  # per process
    cpu_ms_per_order: tuple[dict[str, float], dict[str, float]] | None  # per process
    cpu_added_ms_per_order: dict[str, float] | None  # per process, traced minus untraced
    stack_cpu_ms_per_order: tuple[float, float] | None  # Temporal, worker and API together
    stack_cpu_increase_pct: float | None  # from the line above: what is judged
    intake: list[RateComparison]
    target_cpu_increase_pct: float = TARGET_CPU_INCREASE_PCT

    @property
    def met(self) -> bool | None:
        increase = self.stack_cpu_increase_pct
        return None if increase is None else increase <= self.target_cpu_increase_pct


def comparison(
    counts: dict[str, int],
    rounds: Sequence[tuple[EndToEnd, EndToEnd]],
    intake: list[RateComparison],
) -> TracingComparison:
    """`rounds`: each round's end-to-end figures, untraced then traced. Each figure is the
    median of the rounds: a pair seconds apart shares the machine's state, and one round
    disturbed by the machine moves a median less than a mean."""
    figures = [
        RoundFigures(
            (untraced.orders_per_second, traced.orders_per_second),
            (stack_total(untraced.cpu.ms_per_order), stack_total(traced.cpu.ms_per_order)),
        )
        for untraced, traced in rounds
    ]
    rates = cores = cpu = stack_cpu = None
    if rounds:
        rates = _medians([r.orders_per_second for r in figures])
        stack_cpu = _medians([r.stack_cpu_ms_per_order for r in figures])
        cores = _per_process_medians(rounds, lambda e2e: e2e.cpu.cores)
        cpu = _per_process_medians(rounds, lambda e2e: e2e.cpu.ms_per_order)
    return TracingComparison(
        sampler=SAMPLER,
        spans_received=counts["spans"],
        export_requests=counts["requests"],
        rounds=figures,
        orders_per_second=rates,
        throughput_loss_pct=median(r.loss_pct for r in figures) if figures else None,
        sides_loss_pct=loss_pct(*rates) if rates else None,
        cpu_cores=cores,
        cpu_ms_per_order=cpu,
        cpu_added_ms_per_order=added_ms(*cpu) if cpu else None,
        stack_cpu_ms_per_order=stack_cpu,
        stack_cpu_increase_pct=change_pct(*stack_cpu) if stack_cpu else None,
        intake=intake,
    )


def _medians(pairs: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The median of the untraced and of the traced side."""
    return median(pair[0] for pair in pairs), median(pair[1] for pair in pairs)


def _per_process_medians(
    rounds: Sequence[tuple[EndToEnd, EndToEnd]], figure: Callable[[EndToEnd], dict[str, float]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Each process's median of `figure`, untraced then traced."""
    untraced = median_per_process([figure(untraced) for untraced, _ in rounds])
    return untraced, median_per_process([figure(traced) for _, traced in rounds])


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
        rounds = f"{len(tracing.rounds)} round{'' if len(tracing.rounds) == 1 else 's'}"
        rows.append(
            (
                "  lost (median)",
                f"{tracing.throughput_loss_pct:.1f}% of the throughput, the median of "
                f"{rounds}{_quartiles(tracing.rounds)}; within this machine's noise "
                f"({MACHINE_DRIFT}), so not the verdict",
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
    if tracing.cpu_cores is not None:
        untraced_cores, traced_cores = tracing.cpu_cores
        stack = f"stack {stack_total(traced_cores):.2f} vs {stack_total(untraced_cores):.2f}"
        per_process = _traced_vs_untraced(untraced_cores, traced_cores, ".2f", "")
        rows.append(("  CPU (cores)", f"{stack}; {per_process}"))
    if tracing.cpu_ms_per_order is not None and tracing.stack_cpu_increase_pct is not None:
        increase = f"{tracing.stack_cpu_increase_pct:+.1f}%"
        per_order = _traced_vs_untraced(*tracing.cpu_ms_per_order, ".1f", " ms")
        rows.append(("  CPU per order", f"{increase}: {per_order}"))
        rows.append(("  CPU added", _cpu_added(tracing)))
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


def _traced_vs_untraced(
    untraced: dict[str, float], traced: dict[str, float], spec: str, unit: str
) -> str:
    parts = [
        f"{role} {traced.get(role, 0):{spec}} vs {untraced.get(role, 0):{spec}}" for role in ROLES
    ]
    return f"{', '.join(parts)}{unit} (traced vs untraced)"


def _cpu_added(tracing: TracingComparison) -> str:
    """The verdict: the stack's CPU per order that tracing added, per process and in all."""
    assert tracing.stack_cpu_ms_per_order is not None and tracing.cpu_added_ms_per_order is not None
    assert tracing.stack_cpu_increase_pct is not None
    added = tracing.cpu_added_ms_per_order
    stack = ", ".join(f"{role} {added.get(role, 0.0):+.1f}" for role in ROLES)
    if others := ", ".join(f"{n} {ms:+.1f}" for n, ms in added.items() if n not in ROLES):
        stack += f" ms per order (besides the stack: {others})"
    else:
        stack += " ms per order"
    untraced, traced = tracing.stack_cpu_ms_per_order
    return (
        f"{stack}; the stack's {traced - untraced:+.1f} ms is "
        f"{tracing.stack_cpu_increase_pct:+.1f}% of its untraced {untraced:.1f} ms; "
        f"target <= {tracing.target_cpu_increase_pct:g}%: {'met' if tracing.met else 'NOT met'}"
    )
