"""`doms bench`: measure a running DOMS. `intake` times order placement, one order at a time.

httpx is imported only when a benchmark runs: every `doms` command builds this parser, and
the processes that never benchmark should not need an HTTP client.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from doms.settings import Settings
from loadtest.orders import OrderGenerator

PLACED = "201"
REQUEST_TIMEOUT_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 5.0

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
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
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
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "intake", **asdict(figures)}, indent=2))
    return 0


BENCHMARKS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {"intake": run_intake}


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    return BENCHMARKS[args.benchmark](settings, args)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
    intake.add_argument("--seed", type=int, default=42, help="seed of the generated orders")
    intake.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
