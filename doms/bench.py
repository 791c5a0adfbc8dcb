"""`doms bench`: measure DOMS. `intake` times order placement on a running system, one order
at a time; `sourcing` times the sourcing decision alone, in process; `system` runs the whole
benchmark on fresh embedded stacks of its own (doms/bench_system.py).

httpx is imported only when a benchmark runs: every `doms` command builds this parser, and
the processes that never benchmark should not need an HTTP client.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from domain.geo import great_circle_km
from domain.network import FulfilmentCentre, Market, Network
from domain.network_spec import NetworkSpec
from domain.orders import Destination, Mode, OrderLine, OrderType
from domain.sourcing import source
from doms.local_keys import api_key_of, bearer
from doms.network_file import NetworkFileError, load_network_spec
from doms.settings import Settings
from loadtest.orders import US_METROS, OrderGenerator, Place

PLACED = "201"
REQUEST_TIMEOUT_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 5.0

SOURCING_TARGET_P99_MS = 2.0
SOURCING_CENTRES = 20
SOURCING_LINES = 10
# A synthetic centre holds a given SKU with this probability, so a 10-line order rarely
# finds one centre holding all of it and most decisions need the split search.
SOURCING_STOCKED_SHARE = 0.7
SOURCING_WARM_UP = 200

# The phases of `doms bench system`, in the order they run (doms/bench_system.py).
SYSTEM_PHASES = ("baseline", "e2e", "intake", "tracing", "memory")

PostOrder = Callable[[dict[str, Any]], str]  # sends one order body; returns the outcome


@dataclass(frozen=True)
class IntakeFigures:
    """What `doms bench intake` measured; latencies cover every request, errors included."""

    url: str
    seed: int
    orders: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    orders_per_second: float  # placed (201) orders per second of wall time
    elapsed_seconds: float
    errors_by_outcome: dict[str, int] = field(default_factory=dict)


def nearest_rank(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value that at least `percent`% of the
    values do not exceed. Always one of the values, never an interpolation."""
    if not values:
        raise ValueError("a percentile of no values is undefined")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    rank = math.ceil(percent * len(values) / 100)  # multiply first: 7 * 100 / 100 is exact
    return sorted(values)[rank - 1]


def progress_points(count: int) -> set[int]:
    """After which orders to report progress: every tenth of the run."""
    return {math.ceil(count * tenth / 10) for tenth in range(1, 11)}


def measure_intake(
    post_order: PostOrder,
    generator: OrderGenerator,
    count: int,
    report: Callable[[str], None],
) -> tuple[list[float], list[str], float]:
    """Post `count` generated orders one after another: (latencies in ms, outcomes, seconds)."""
    latencies_ms: list[float] = []
    outcomes: list[str] = []
    report_after = progress_points(count)
    run_started = time.perf_counter()
    for done in range(1, count + 1):
        body = generator.next_order()
        started = time.perf_counter()
        outcomes.append(post_order(body))
        latencies_ms.append((time.perf_counter() - started) * 1000)
        if done in report_after:
            report(f"{done:>8}/{count}  {done * 100 // count:>3}%")
    return latencies_ms, outcomes, time.perf_counter() - run_started


def rate_limit_note(outcomes: Sequence[str]) -> str | None:
    """What to do when the API's rate limit refused orders: they measure the limit, not it."""
    refused = outcomes.count("429")
    if not refused:
        return None
    return (
        f"{refused} orders were refused by the API's per-client rate limit (429); "
        "measure an API started with DOMS_RATE_LIMIT_PER_SECOND=0"
    )


def summarize(
    url: str, seed: int, latencies_ms: Sequence[float], outcomes: Sequence[str], elapsed: float
) -> IntakeFigures:
    errors = Counter(outcome for outcome in outcomes if outcome != PLACED)
    placed = len(outcomes) - errors.total()
    return IntakeFigures(
        url=url,
        seed=seed,
        orders=len(outcomes),
        errors=errors.total(),
        p50_ms=nearest_rank(latencies_ms, 50),
        p95_ms=nearest_rank(latencies_ms, 95),
        p99_ms=nearest_rank(latencies_ms, 99),
        mean_ms=statistics.fmean(latencies_ms),
        max_ms=max(latencies_ms),
        orders_per_second=placed / elapsed if elapsed > 0 else 0.0,
        elapsed_seconds=elapsed,
        errors_by_outcome=dict(sorted(errors.items())),
    )


def result_block(figures: IntakeFigures) -> str:
    errors = f"{figures.errors}"
    if figures.errors_by_outcome:
        errors += " (" + ", ".join(f"{k}: {n}" for k, n in figures.errors_by_outcome.items()) + ")"
    rows = [
        ("orders", f"{figures.orders}"),
        ("errors", errors),
        *(
            (f"latency {name}", f"{getattr(figures, name + '_ms'):.1f} ms")
            for name in ("p50", "p95", "p99", "mean", "max")
        ),
        ("throughput", f"{figures.orders_per_second:.1f} orders/s"),
    ]
    return "\n".join(f"{label:<14}{value}" for label, value in rows)


def run_intake(settings: Settings, args: argparse.Namespace) -> int:
    import httpx  # see the module docstring

    url = (args.url or settings.api_url).rstrip("/")
    headers = bearer(api_key_of(settings, args.api_key))
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_SECONDS, headers=headers) as client:
        try:
            client.get("/healthz", timeout=PROBE_TIMEOUT_SECONDS)
        except httpx.TransportError as error:
            reason = str(error) or type(error).__name__
            print(f"doms bench: cannot reach the API at {url}: {reason}", file=sys.stderr)
            return 2

        def post_order(body: dict[str, Any]) -> str:
            try:
                return str(client.post("/orders", json=body).status_code)
            except httpx.TransportError as error:  # counted as an error, like a 5xx
                return type(error).__name__

        print(f"intake: {args.orders} orders, one at a time, to {url} (seed {args.seed})")
        measured = measure_intake(
            post_order, OrderGenerator(args.seed), args.orders, lambda line: print(line, flush=True)
        )
    figures = summarize(url, args.seed, *measured)
    print(result_block(figures))
    if note := rate_limit_note(measured[1]):
        print(f"doms bench: {note}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "intake", **asdict(figures)}, indent=2))
    return 0


@dataclass(frozen=True)
class SourcingInput:
    mode: Mode
    order_type: OrderType
    destination: Destination
    lines: tuple[OrderLine, ...]
    backlog: dict[str, int]

    def order(self) -> tuple[Mode, OrderType, Destination, tuple[OrderLine, ...]]:
        return self.mode, self.order_type, self.destination, self.lines


@dataclass(frozen=True)
class SourcingFigures:
    """What `doms bench sourcing` measured: the time of `domain.sourcing.source` alone."""

    centres: int
    lines: int
    decisions: int
    seed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    parcels: dict[str, int]  # decisions by parcel count; "0" = not served
    target_p99_ms: float = SOURCING_TARGET_P99_MS

    @property
    def met(self) -> bool:
        return self.p99_ms <= self.target_p99_ms


def sourcing_bench_spec(base: NetworkSpec, seed: int) -> NetworkSpec:
    """`base` grown to 20 centres with regional ones in the largest US metros that have
    none within 100 km, and random stock: each regional centre holds each SKU with a
    70% chance; the central centre holds their sum."""
    rng = random.Random(seed)
    centres = list(base.network.centres)
    for place, _ in US_METROS:
        if len(centres) >= SOURCING_CENTRES:
            break
        if all(great_circle_km(fc.lat, fc.lon, place.lat, place.lon) > 100 for fc in centres):
            centres.append(_bench_centre(place))
    network = Network(tuple(centres))
    stock: dict[tuple[str, str], int] = {}
    for sku in base.skus:
        held = {
            fc.id: rng.randint(3, 30) if rng.random() < SOURCING_STOCKED_SHARE else 0
            for fc in network.regional()
        }
        stock |= {(fc_id, sku): units for fc_id, units in held.items()}
        stock[(network.central().id, sku)] = sum(held.values())
    return NetworkSpec(network, base.service_levels, base.skus, stock)


def _bench_centre(place: Place) -> FulfilmentCentre:
    fc_id = "bench-" + place.name.lower().replace(" ", "-")
    domestic = frozenset({Market.DOMESTIC})
    return FulfilmentCentre(
        fc_id, place.name, "bench", place.country, place.lat, place.lon, markets=domestic
    )


def sourcing_inputs(spec: NetworkSpec, count: int, seed: int) -> list[SourcingInput]:
    """Distributed-mode orders of 10 distinct SKUs to the largest US metros, with random
    backlogs so the load tie-break is live."""
    rng = random.Random(seed)
    metros = [place for place, _ in US_METROS]
    inputs = []
    for _ in range(count):
        place = rng.choice(metros)
        skus = rng.sample(spec.skus, SOURCING_LINES)
        inputs.append(
            SourcingInput(
                Mode.DISTRIBUTED,
                rng.choice([OrderType.STANDARD, OrderType.EXPEDITED]),
                Destination(place.country, place.postal_code, place.lat, place.lon),
                tuple(OrderLine(sku, rng.randint(1, 3)) for sku in skus),
                {fc.id: rng.randint(0, 200) for fc in spec.network.centres},
            )
        )
    return inputs


def measure_sourcing(
    spec: NetworkSpec, inputs: Sequence[SourcingInput]
) -> tuple[list[float], Counter[int]]:
    """Decide every input once, after a warm-up: (latencies in ms, decisions by parcels)."""
    latencies_ms: list[float] = []
    parcels = Counter[int]()
    for index, order in enumerate([*inputs[:SOURCING_WARM_UP], *inputs]):
        started = time.perf_counter()
        decision = source(spec, *order.order(), spec.initial_stock, order.backlog)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if index >= min(SOURCING_WARM_UP, len(inputs)):
            latencies_ms.append(elapsed_ms)
            parcels[len(decision.parcels)] += 1
    return latencies_ms, parcels


def sourcing_result_block(figures: SourcingFigures) -> str:
    served = {n: count for n, count in figures.parcels.items() if n != "0"}
    shares = ", ".join(
        f"{n}: {count * 100 / figures.decisions:.1f}%" for n, count in sorted(served.items())
    )
    unserved = figures.parcels.get("0", 0) * 100 / figures.decisions
    verdict = "met" if figures.met else "NOT met"
    rows = [
        ("decisions", f"{figures.decisions} ({figures.lines} lines, {figures.centres} centres)"),
        ("parcels", f"{shares}; not served: {unserved:.1f}%"),
        *(
            (f"latency {name}", f"{getattr(figures, name + '_ms'):.3f} ms")
            for name in ("p50", "p95", "p99", "mean", "max")
        ),
        ("target", f"p99 <= {figures.target_p99_ms:g} ms: {verdict}"),
    ]
    return "\n".join(f"{label:<14}{value}" for label, value in rows)


def run_sourcing(settings: Settings, args: argparse.Namespace) -> int:
    try:
        base = load_network_spec(settings.network_file)
    except NetworkFileError as error:
        print(f"doms bench: {error}", file=sys.stderr)
        return 2
    spec = sourcing_bench_spec(base, args.seed)
    inputs = sourcing_inputs(spec, args.decisions, args.seed)
    print(
        f"sourcing: {args.decisions} decisions of {SOURCING_LINES}-line orders over "
        f"{len(spec.network.centres)} centres (seed {args.seed})",
        flush=True,
    )
    latencies_ms, parcels = measure_sourcing(spec, inputs)
    figures = SourcingFigures(
        centres=len(spec.network.centres),
        lines=SOURCING_LINES,
        decisions=len(latencies_ms),
        seed=args.seed,
        p50_ms=nearest_rank(latencies_ms, 50),
        p95_ms=nearest_rank(latencies_ms, 95),
        p99_ms=nearest_rank(latencies_ms, 99),
        mean_ms=statistics.fmean(latencies_ms),
        max_ms=max(latencies_ms),
        parcels={str(n): count for n, count in sorted(parcels.items())},
    )
    print(sourcing_result_block(figures))
    if args.json:
        payload = {"benchmark": "sourcing", **asdict(figures), "met": figures.met}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


def run_system(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here: it needs temporalio, psutil and httpx, which other commands do not.
    from doms import bench_system

    return bench_system.run_system(settings, args)


BENCHMARKS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "intake": run_intake,
    "sourcing": run_sourcing,
    "system": run_system,
}


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    return BENCHMARKS[args.benchmark](settings, args)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def positive_floats(text: str) -> list[float]:
    """A comma-separated list of positive numbers, e.g. `50,100,200`."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected numbers like 50,100,200: {text!r}") from error
    if not values or any(not value > 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers like 50,100,200: {text!r}")
    return values


def phase_names(text: str) -> list[str]:
    """Phases of `doms bench system` to skip, e.g. `memory` or `baseline,intake`."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    if not chosen or any(name not in SYSTEM_PHASES for name in chosen):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SYSTEM_PHASES)}; got {text!r}")
    return list(dict.fromkeys(chosen))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    benchmarks = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    intake = benchmarks.add_parser(
        "intake",
        help="time POST /orders, one order after another",
        description="Place generated orders one at a time on a running API and report "
        "latency percentiles (nearest rank) and placed orders per second.",
    )
    intake.add_argument("--orders", type=positive_int, default=100, help="how many (default 100)")
    intake.add_argument(
        "--url", help="the API's base URL (default: from DOMS_API_HOST and DOMS_API_PORT)"
    )
    intake.add_argument(
        "--api-key",
        metavar="KEY",
        help="an operator or customer API key (default: DOMS_API_KEY, else the operator key "
        "a local `doms up` wrote to the var dir)",
    )
    intake.add_argument("--seed", type=int, default=42, help="seed of the generated orders")
    intake.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    sourcing = benchmarks.add_parser(
        "sourcing",
        help="time the sourcing decision alone, in process",
        description="Decide generated 10-line orders over a 20-centre network (the configured "
        "network grown with synthetic centres, stock that often forces splits) and report "
        f"latency percentiles per decision against the target p99 <= "
        f"{SOURCING_TARGET_P99_MS:g} ms.",
    )
    sourcing.add_argument(
        "--decisions", type=positive_int, default=10_000, help="how many (default 10000)"
    )
    sourcing.add_argument("--seed", type=int, default=42, help="seed of the network and orders")
    sourcing.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    _system_arguments(benchmarks)


def _system_arguments(benchmarks: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    system = benchmarks.add_parser(
        "system",
        help="the whole benchmark on fresh embedded stacks: baseline, end to end, intake, "
        "tracing, memory",
        description="Start `doms up` on a fresh var dir and free ports (simulated delays off) "
        "and measure: a baseline workflow of three regular activities on its Temporal server "
        "(workflows/s); DOMS end to end through HTTP (orders/s, ratio to the baseline); "
        "POST /orders latency at fixed arrival rates. Then rounds of the same orders on an "
        "untraced `doms up` and one tracing every order (OTLP/HTTP to a receiver of the bench's "
        "own), both kept up and taking turns: the median of the rounds' throughput lost to "
        "tracing, and the intake rates again on the traced stack. Then a `doms up` where "
        "orders stay in flight, to read the worker's and the API's memory. Progress goes to "
        "stderr, the figures and targets to stdout. Exit code 1 only when the run broke.",
    )
    system.add_argument(
        "--orders", type=positive_int, default=1000, help="end-to-end orders (default 1000)"
    )
    system.add_argument(
        "--concurrency",
        type=positive_int,
        default=50,
        help="requests in flight when placing the end-to-end and in-flight orders (default 50)",
    )
    system.add_argument(
        "--baseline-workflows", type=positive_int, default=1000, help="(default 1000)"
    )
    system.add_argument(
        "--baseline-concurrency", type=positive_int, default=100, help="(default 100)"
    )
    system.add_argument(
        "--rates",
        type=positive_floats,
        default=[50.0, 100.0, 200.0],
        help="intake arrival rates, orders/s (default 50,100,200)",
    )
    system.add_argument(
        "--rate-seconds",
        type=positive_float,
        default=30.0,  # bench_targets.TARGET_RATE_SECONDS (importing it here is circular)
        help="per rate (default 30, as long as the intake target holds)",
    )
    system.add_argument(
        "--tracing-rounds",
        type=positive_int,
        default=9,
        help="tracing: rounds, each the same orders on the untraced and the traced stack, "
        "in turn (default 9)",
    )
    system.add_argument(
        "--tracing-orders",
        type=positive_int,
        default=200,
        help="tracing: end-to-end orders per stack and round (default 200)",
    )
    system.add_argument(
        "--in-flight",
        type=positive_int,
        default=10_000,
        help="orders in flight when memory is read (default 10000)",
    )
    system.add_argument(
        "--drain-timeout",
        type=positive_float,
        default=300.0,
        help="seconds to wait for a phase's orders to be final (default 300)",
    )
    system.add_argument(
        "--skip", type=phase_names, default=[], help=f"phases to skip: {', '.join(SYSTEM_PHASES)}"
    )
    system.add_argument(
        "--database-url",
        metavar="URL",
        help="the stacks' app database (default: a fresh SQLite file each); a PostgreSQL "
        "database should be empty: the figures count only the run's own orders, but what "
        "another left in flight loads the stack",
    )
    system.add_argument("--seed", type=int, default=42, help="seed of the generated orders")
    system.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    system.add_argument(
        "--keep",
        action="store_true",
        help="keep the stacks' var dirs (logs, databases) after a run that went well too",
    )
