"""`doms bench system`: the issue's benchmark in one run, on fresh embedded stacks.

Stacks run one after the other (but the tracing pair, side by side), each a `doms up` on a
var dir and ports of its own:

- the *fast* stack, simulated delays off (orders skip their handling and transit timers), for
  1. the baseline: Temporal's reference order shape on the same server (bench_baseline.py);
  2. DOMS end to end: orders through HTTP until each is final, and the ratio to the baseline;
  3. intake: POST /orders latency at fixed arrival rates, the worker busy with those orders;
- a pair of fast stacks, one untraced and one tracing at 100% sampling to an OTLP receiver,
  both kept up, for
  4. tracing: rounds of the same orders end to end on each in turn, judged by the median of
     the rounds' losses, and the intake rates on the traced stack (doms/bench_tracing.py);
- the *slow* stack, delays on and a simulated hour lasting a real hour, so that the orders
  placed on it stay in flight while
  5. memory: the worker's and the API's resident memory is read.

The intake rates run twice on the fast stack: as they come, and then pinned, the API on a
core of its own and the rest on another (doms/bench_pinning.py).

Every stack stocks every SKU amply (bench_stack.ample_stock): no order is refused for want of
stock, so every accepted order runs its whole course. Per phase, the CPU each process used
is recorded, in cores and per completed order, to show where the time goes, and the phase's
orders are counted in the app database beside the bench's own counts (doms/bench_counts.py).
Targets not met are reported (doms/bench_targets.py, doms/bench_report.py), not failures;
the exit code is 1 only when the run broke (a stack did not start, an end-to-end order
failed or never finished, the in-flight orders never showed up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # psutil ships no type information
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client

from domain.orders import OrderStatus
from doms.bench_baseline import BaselineFigures, run_baseline
from doms.bench_counts import (
    AppDatabase,
    OrderCounts,
    app_database,
    database_url,
    discrepancies,
    pending,
    phase_tag,
    reconciliation,
    run_id,
    tagged,
)
from doms.bench_load import (
    Connections,
    LatencyFigures,
    RateFigures,
    arrival_offsets,
    errors_by_outcome,
    place_closed_loop,
    place_open_loop,
    rate_figures,
)
from doms.bench_pinning import affinity_plan, pinned, plan_text, usable_cpus
from doms.bench_report import figures_json, result_block
from doms.bench_stack import (
    BENCH,
    CpuMeter,
    PhaseCpu,
    StackError,
    bench_network_file,
    rss_mb,
    running_stack,
    stack_names,
    stack_processes,
)
from doms.bench_targets import TARGET_API_MB, TARGET_WORKER_MB
from doms.bench_tracing import (
    TRACED,
    UNTRACED,
    RateComparison,
    TracingComparison,
    comparison,
    round_sides,
    running_receiver,
    traced_settings,
)
from doms.experiment import System
from doms.network_file import NetworkFileError, load_network_spec
from doms.settings import Settings
from loadtest.orders import OrderGenerator

FAST_SPEEDUP = 36_000.0  # matters only where delays still apply; a simulated hour is 0.1 s
SLOW_SPEEDUP = 1.0  # a simulated hour is a real one: the memory phase's orders stay in flight
STOCK_UNITS = 1_000_000
STACKS = {  # how the stacks are set up, for --json
    "fast_stack": {"speedup": FAST_SPEEDUP, "simulated_delays": False},
    "slow_stack": {"speedup": SLOW_SPEEDUP, "simulated_delays": True},
    "stock_units_per_sku": STOCK_UNITS,
}
REQUEST_TIMEOUT_SECONDS = 30.0
# Open-loop requests beyond this many in flight wait for a connection; their latency still
# counts from the time they were due. At 200 orders/s it is a second's worth of requests.
CONNECTIONS = 256
POLL_SECONDS = 0.2  # how often the order counts are read; the end-to-end time's resolution
# The names of the intake's variants, in the order they run; also their orders' tags.
INTAKE, PINNED, TRACED_INTAKE = "intake", "intake-pinned", "traced-intake"
REPORT_EVERY_SECONDS = 5.0
# The memory phase waits at most this long, plus a second per this many orders, for the
# orders' workflows to show up in flight.
SETTLE_SECONDS = 120.0
SETTLE_ORDERS_PER_SECOND = 10.0
IN_FLIGHT_QUERY = (
    "WorkflowType = 'Order' AND ExecutionStatus = 'Running' "
    f"AND OrderStatus IN ('{OrderStatus.ALLOCATED}', '{OrderStatus.BACKORDERED}')"
)

Say = Callable[[str], None]


class BenchBroke(Exception):
    """The run cannot go on or its figures mean nothing; the message says why."""


@dataclass(frozen=True)
class EndToEndFigures:
    orders: int
    concurrency: int
    placed: int  # answered 201
    errors: int
    delivered: int  # as the database has it
    pending: int  # accepted or placed, but not final when the wait gave up
    seconds: float  # from the first POST to the moment every placed order was seen final
    orders_per_second: float  # delivered orders per second of that time
    placing: LatencyFigures
    ratio_to_baseline: float | None
    cpu: PhaseCpu
    database: OrderCounts  # this phase's orders, by status, when the wait ended
    errors_by_outcome: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeRate:
    figures: RateFigures
    drain_seconds: float  # until this rate's orders were all final, after the last answer
    pending_after_drain: int
    cpu: PhaseCpu  # cores while the rate's requests were sent; per order until drained
    database: OrderCounts


@dataclass(frozen=True)
class MemoryFigures:
    in_flight: int  # orders asked for
    placed: int
    errors: int
    running_workflows: int  # Order workflows running, allocated or backordered, when measured
    placing_seconds: float
    settle_seconds: float
    rss_mb: dict[str, float]
    errors_by_outcome: dict[str, int] = field(default_factory=dict)
    target_worker_mb: float = TARGET_WORKER_MB
    target_api_mb: float = TARGET_API_MB


@dataclass
class Run:
    """What one `doms bench system` measured so far."""

    args: argparse.Namespace
    say: Say
    generator: OrderGenerator
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 1)
    run_id: str = field(default_factory=run_id)
    baseline: BaselineFigures | None = None
    baseline_cpu: PhaseCpu | None = None
    e2e: EndToEndFigures | None = None
    intake: list[IntakeRate] = field(default_factory=list)
    pinned_intake: list[IntakeRate] = field(default_factory=list)
    pinning: str | None = None  # which process ran on which CPU, or why the pinning was skipped
    memory: MemoryFigures | None = None
    # The tracing phase: each round's e2e figures (untraced, traced), the traced intake rates.
    tracing_rounds: list[tuple[EndToEndFigures, EndToEndFigures]] = field(default_factory=list)
    traced_intake: list[IntakeRate] = field(default_factory=list)
    tracing: TracingComparison | None = None

    def bodies(self, count: int) -> list[dict[str, Any]]:
        """Drawn before a phase starts, so order generation is not timed."""
        return [self.generator.next_order() for _ in range(count)]

    def tag(self, phase: str) -> str:
        return phase_tag(self.run_id, phase)


# --- order counts ---------------------------------------------------------------------------


async def wait_until_final(
    database: AppDatabase, tag: str, placed: int, within: float, say: Say
) -> tuple[float, OrderCounts, int]:
    """Poll until every order tagged `tag` is final and at least the `placed` ones the API
    answered 201 for are there, or `within` seconds pass: (loop time the condition was
    seen, the tagged orders' counts, orders still pending)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    next_report = loop.time() + REPORT_EVERY_SECONDS
    while True:
        counts = await database.counts(tag)
        left = pending(counts, placed)
        now = loop.time()
        if left == 0 or now > deadline:
            return now, counts, left
        if now >= next_report:
            say(f"  {left} orders not final yet")
            next_report = now + REPORT_EVERY_SECONDS
        await asyncio.sleep(POLL_SECONDS)  # a polling interval, not a synchronisation


# --- the phases -----------------------------------------------------------------------------


async def baseline_phase(run: Run, system: System, processes: dict[str, Any]) -> None:
    run.say(
        f"baseline: {run.args.baseline_workflows} workflows of 3 activities, "
        f"{run.args.baseline_concurrency} at a time"
    )
    client = await Client.connect(system.env["DOMS_TEMPORAL_ADDRESS"])
    # The baseline's worker runs in this process, so the DOMS worker and API idle meanwhile,
    # and this process counts as the stack's: its worker is the baseline's.
    meter = CpuMeter({name: processes[name] for name in ("temporal", BENCH)})
    run.baseline = await run_baseline(
        client, run.args.baseline_workflows, run.args.baseline_concurrency, run.say
    )
    used, workflows = meter.read(), run.baseline.workflows
    run.baseline_cpu = PhaseCpu.of(used, used, workflows, workflows, stack=list(used.seconds))


async def e2e_phase(
    run: Run, database: AppDatabase, connections: Connections, processes: dict[str, Any]
) -> None:
    args = run.args
    run.say(f"e2e: {args.orders} orders, {args.concurrency} at a time, until each is final")
    bodies = tagged(run.bodies(args.orders), tag := run.tag("e2e"))
    e2e = await end_to_end(run, bodies, tag, database, connections, processes)
    baseline = run.baseline.workflows_per_second if run.baseline else None
    ratio = e2e.orders_per_second / baseline if baseline else None
    run.e2e = replace(e2e, ratio_to_baseline=ratio)


async def end_to_end(
    run: Run,
    bodies: list[dict[str, Any]],
    tag: str,
    database: AppDatabase,
    connections: Connections,
    processes: dict[str, Any],
) -> EndToEndFigures:
    """Place `bodies` (tagged `tag`), `run.args.concurrency` at a time, and wait until each
    order is final."""
    args = run.args
    loop = asyncio.get_running_loop()
    meter = CpuMeter(processes)
    started = loop.time()
    shots = await place_closed_loop(
        connections.post_order,
        bodies,
        args.concurrency,
        _progress(run.say, "  placed", len(bodies)),
    )
    placed = sum(shot.placed for shot in shots)
    seen_at, counts, left = await wait_until_final(
        database, tag, placed, args.drain_timeout, run.say
    )
    used = meter.read()
    seconds = seen_at - started
    errors = errors_by_outcome(shots)
    return EndToEndFigures(
        orders=len(shots),
        concurrency=args.concurrency,
        placed=placed,
        errors=sum(errors.values()),
        delivered=counts.delivered,
        pending=left,
        seconds=seconds,
        orders_per_second=counts.delivered / seconds,
        placing=LatencyFigures.of(shots),
        ratio_to_baseline=None,
        cpu=PhaseCpu.of(used, used, counts.delivered, counts.accepted, stack_names(processes)),
        database=counts,
        errors_by_outcome=errors,
    )


async def intake_phase(
    run: Run,
    variant: str,
    database: AppDatabase,
    connections: Connections,
    processes: dict[str, Any],
) -> list[IntakeRate]:
    """Each rate starts on an idle worker: the orders of the rate before are final first
    (or given up on: they are tagged apart, so they cannot count in the next rate)."""
    args = run.args
    figures_by_rate: list[IntakeRate] = []
    for rate in args.rates:
        offsets = arrival_offsets(rate, args.rate_seconds)
        run.say(f"{variant}: {rate:g} orders/s for {args.rate_seconds:g} s ({len(offsets)} orders)")
        bodies = tagged(run.bodies(len(offsets)), tag := run.tag(f"{variant}-{rate:g}"))
        meter = CpuMeter(processes)
        shots = await place_open_loop(connections.post_order, bodies, offsets)
        loaded = meter.read()
        figures = rate_figures(rate, args.rate_seconds, shots)
        run.say(
            f"  p95 {figures.latency.p95_ms:.1f} ms, {figures.errors} errors; "
            "waiting until its orders are final"
        )
        answered = asyncio.get_running_loop().time()
        seen_at, counts, left = await wait_until_final(
            database, tag, figures.placed, args.drain_timeout, run.say
        )
        cpu = PhaseCpu.of(
            loaded, meter.read(), counts.delivered, counts.accepted, stack_names(processes)
        )
        figures_by_rate.append(IntakeRate(figures, seen_at - answered, left, cpu, counts))
    return figures_by_rate


async def pinned_intake_phase(
    run: Run, database: AppDatabase, connections: Connections, processes: dict[str, Any]
) -> None:
    """The intake rates again, the API on a CPU of its own and the rest, this process with
    its load included, on another; unpinned again after."""
    usable = usable_cpus()
    plan = affinity_plan(list(processes), usable)
    if plan is None:
        run.pinning = (
            f"skipped: {len(usable)} CPU usable, and the API needs one of its own besides "
            "one for the rest"
        )
        run.say(f"{PINNED}: {run.pinning}")
        return
    run.pinning = plan_text(plan)
    run.say(f"{PINNED}: {run.pinning}")
    with pinned(processes, plan):
        run.pinned_intake = await intake_phase(run, PINNED, database, connections, processes)


async def memory_phase(run: Run, system: System, processes: dict[str, Any]) -> None:
    args = run.args
    run.say(f"memory: {args.in_flight} orders, {args.concurrency} at a time, kept in flight")
    bodies = run.bodies(args.in_flight)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with _connections(system, args.concurrency) as connections:
        shots = await place_closed_loop(
            connections.post_order,
            bodies,
            args.concurrency,
            _progress(run.say, "memory: placed", args.in_flight),
        )
    placing_seconds = loop.time() - started
    placed = sum(shot.placed for shot in shots)
    client = await Client.connect(system.env["DOMS_TEMPORAL_ADDRESS"])
    within = SETTLE_SECONDS + placed / SETTLE_ORDERS_PER_SECOND
    running = await _wait_in_flight(client, placed, within, run.say)
    errors = errors_by_outcome(shots)
    run.memory = MemoryFigures(
        in_flight=args.in_flight,
        placed=placed,
        errors=sum(errors.values()),
        running_workflows=running,
        placing_seconds=placing_seconds,
        settle_seconds=loop.time() - started - placing_seconds,
        rss_mb={role: round(rss_mb(processes[role]), 1) for role in ("worker", "api", "temporal")},
        errors_by_outcome=errors,
    )


async def _wait_in_flight(client: Client, placed: int, within: float, say: Say) -> int:
    """Wait until every placed order's workflow has run its first steps (Temporal's
    visibility shows it allocated): the worker has then seen each of them once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    next_report = loop.time() + REPORT_EVERY_SECONDS
    while (running := (await client.count_workflows(IN_FLIGHT_QUERY)).count) < placed:
        if loop.time() > deadline:
            raise BenchBroke(
                f"only {running} of {placed} order workflows were in flight after {within:.0f} s"
            )
        if loop.time() >= next_report:
            say(f"  {running}/{placed} order workflows in flight")
            next_report = loop.time() + REPORT_EVERY_SECONDS
        await asyncio.sleep(POLL_SECONDS)  # a polling interval, not a synchronisation
    return running


def _progress(say: Say, what: str, count: int) -> Callable[[int], None]:
    from doms.bench import progress_points

    points = progress_points(count)
    return lambda done: say(f"{what} {done}/{count}") if done in points else None


def _load_connections(system: System, args: argparse.Namespace) -> Connections:
    """For the e2e and intake phases: enough for the open loop's bursts, or the concurrency."""
    return _connections(system, max(CONNECTIONS, args.concurrency))


def _connections(system: System, count: int) -> Connections:
    return Connections(system.url, count, REQUEST_TIMEOUT_SECONDS, system.headers)


# --- the stacks -----------------------------------------------------------------------------


async def fast_stack_phases(run: Run, system: System) -> None:
    processes = stack_processes(system)
    skip = set(run.args.skip)
    if "baseline" not in skip:
        await baseline_phase(run, system, processes)
    async with _database(system) as database, _load_connections(system, run.args) as connections:
        if "e2e" not in skip:
            await e2e_phase(run, database, connections, processes)
        if "intake" not in skip:
            run.intake = await intake_phase(run, INTAKE, database, connections, processes)
            await pinned_intake_phase(run, database, connections, processes)


def tracing_phase(run: Run, work_dir: Path, settings: dict[str, str]) -> None:
    """Rounds of the same orders end to end on an untraced and a traced stack, both started
    once and kept up (doms/bench_tracing.py says why); then the intake rates on the traced
    one."""
    args = run.args
    generator = OrderGenerator(args.seed)
    run.say(
        f"tracing: {args.tracing_rounds} rounds of {args.tracing_orders} orders on an "
        "untraced and a traced stack, both kept up, taking turns"
    )
    with running_receiver(work_dir / "otlp-receiver.log") as receiver:
        otlp = {"otlp": psutil.Process(receiver.process.pid)}
        with ExitStack() as stacks:
            systems = {
                side: stacks.enter_context(
                    running_stack(
                        work_dir / f"tracing-{side}",
                        FAST_SPEEDUP,
                        run.say,
                        **{**settings, **(traced_settings(receiver.url) if side == TRACED else {})},
                    )
                )
                for side in (UNTRACED, TRACED)
            }
            for index in range(args.tracing_rounds):
                bodies = [generator.next_order() for _ in range(args.tracing_orders)]
                figures: dict[str, EndToEndFigures] = {}
                for side in round_sides(index):
                    run.say(f"tracing round {index + 1}/{args.tracing_rounds}: {side}")
                    others = otlp if side == TRACED else {}
                    tag = run.tag(f"round-{index + 1}-{side}")
                    figures[side] = asyncio.run(
                        tracing_round(run, systems[side], tagged(bodies, tag), tag, others)
                    )
                run.tracing_rounds.append((figures[UNTRACED], figures[TRACED]))
            if "intake" not in args.skip:
                run.say("tracing: the intake rates on the traced stack")
                asyncio.run(traced_intake(run, systems[TRACED], otlp))
        counts = receiver.counts()  # the stacks have stopped: their processes flushed
    rates = [
        RateComparison(off.figures.rate, off.figures.latency, on.figures.latency)
        for off, on in zip(run.intake, run.traced_intake, strict=True)
    ]
    run.tracing = comparison(counts, run.tracing_rounds, rates)


async def tracing_round(
    run: Run, system: System, bodies: list[dict[str, Any]], tag: str, others: dict[str, Any]
) -> EndToEndFigures:
    """One side of a round; `others`: more processes whose CPU time counts (the receiver)."""
    processes = stack_processes(system) | others
    async with _database(system) as database, _load_connections(system, run.args) as connections:
        e2e = await end_to_end(run, bodies, tag, database, connections, processes)
    run.say(f"  {e2e.orders_per_second:.1f} orders/s, {e2e.errors} errors")
    return e2e


async def traced_intake(run: Run, system: System, others: dict[str, Any]) -> None:
    processes = stack_processes(system) | others
    async with _database(system) as database, _load_connections(system, run.args) as connections:
        run.traced_intake = await intake_phase(run, TRACED_INTAKE, database, connections, processes)


def _database(system: System) -> AbstractAsyncContextManager[AppDatabase]:
    """For the order counts the bench polls: read from the stack's database by the bench
    itself, so the polling costs the API (and the traced stack's tracing) nothing."""
    return app_database(database_url(system.env))


def run_stacks(run: Run, work_dir: Path, network: Path) -> None:
    skip = set(run.args.skip)
    settings = {"DOMS_NETWORK_FILE": str(network)}
    if run.args.database_url:
        settings["DOMS_DATABASE_URL"] = run.args.database_url
    fast = {**settings, "DOMS_SIMULATED_DELAYS": "false"}
    if not {"baseline", "e2e", "intake"} <= skip:
        with running_stack(work_dir / "fast", FAST_SPEEDUP, run.say, **fast) as system:
            asyncio.run(fast_stack_phases(run, system))
    if "tracing" not in skip:
        tracing_phase(run, work_dir, fast)
    if "memory" not in skip:
        with running_stack(work_dir / "slow", SLOW_SPEEDUP, run.say, **settings) as system:
            asyncio.run(memory_phase(run, system, stack_processes(system)))


def broken(run: Run) -> str | None:
    """Why the figures cannot be trusted, if they cannot."""
    e2e, memory = run.e2e, run.memory
    if e2e is not None and _e2e_failed(e2e):
        return f"e2e: {_e2e_broken(e2e)}"
    for number, sides in enumerate(run.tracing_rounds, start=1):
        for side, e2e in zip((UNTRACED, TRACED), sides, strict=True):
            if _e2e_failed(e2e):
                return f"tracing round {number}, {side}: {_e2e_broken(e2e)}"
    if any(rate.pending_after_drain for rate in run.traced_intake):
        return "tracing: orders of the traced intake rates were never final"
    if run.tracing is not None and run.tracing.spans_received == 0:
        return "tracing: the traced stack sent no spans to the receiver"
    if memory is not None and memory.errors:
        return f"memory: {memory.errors} of {memory.in_flight} orders were not placed"
    return None


def _e2e_failed(e2e: EndToEndFigures) -> bool:
    """An end-to-end order failed, never finished, or is not what the database says."""
    return bool(
        e2e.errors or e2e.pending or discrepancies(e2e.placed, e2e.errors_by_outcome, e2e.database)
    )


def _e2e_broken(e2e: EndToEndFigures) -> str:
    counted = reconciliation(e2e.placed, e2e.errors_by_outcome, e2e.database)
    return f"{e2e.errors} errors, {e2e.pending} not final; database: {counted}"


def run_system(settings: Settings, args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    load_network_spec(settings.network_file)  # a bad network file: a message, exit 2 (cli.py)
    work_dir = Path(tempfile.mkdtemp(prefix="doms-bench-system-"))
    run = Run(args, say, OrderGenerator(args.seed))
    failure: str | None = None
    interrupted = False
    signal.signal(signal.SIGTERM, _interrupt)  # stop like Ctrl-C: the running stack too
    try:
        network = bench_network_file(work_dir / "network.toml", settings.network_file, STOCK_UNITS)
        run_stacks(run, work_dir, network)
    except (StackError, BenchBroke, NetworkFileError, httpx.HTTPError, SQLAlchemyError) as error:
        failure = str(error) or repr(error)
    except KeyboardInterrupt:  # the stack is stopped by now; report the phases done
        interrupted, failure = True, "interrupted"
    failure = failure or broken(run)
    print(result_block(run))
    if args.json:
        args.json.write_text(json.dumps(figures_json(run, failure, STACKS), indent=2))
    if failure:
        print(f"doms bench system: {failure}; state and logs kept in {work_dir}", file=sys.stderr)
        return 130 if interrupted else 1
    if args.keep:
        print(f"doms bench system: state and logs kept in {work_dir}", file=sys.stderr)
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
