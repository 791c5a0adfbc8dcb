"""What `doms bench system` prints and writes: the figures block (stdout) and --json, each
figure beside its target's verdict (doms/bench_targets.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from doms.bench_counts import discrepancies, reconciliation
from doms.bench_load import LatencyFigures
from doms.bench_stack import PhaseCpu
from doms.bench_targets import (
    MOONSHOT_API_CPU_MS,
    MOONSHOT_RATIO,
    TARGET_API_CPU_MS,
    TARGET_API_MB,
    TARGET_P95_MS,
    TARGET_RATE,
    TARGET_RATE_SECONDS,
    TARGET_RATIO,
    TARGET_WORKER_MB,
    api_cpu_text,
    cores_text,
    intake_met,
    intake_text,
    met_target,
    ratio_text,
    target_cores,
    verdict,
)
from doms.bench_tracing import TARGET_CPU_INCREASE_PCT, TRACED, UNTRACED, comparison_rows
from doms.experiment import machine

if TYPE_CHECKING:  # bench_system imports this module, to report what it measured
    from doms.bench_system import IntakeRate, Run

Rows = list[tuple[str, str]]


def target_rate(rates: list[IntakeRate]) -> IntakeRate | None:
    return next((rate for rate in rates if rate.figures.rate == TARGET_RATE), None)


def highest_rate(rates: list[IntakeRate]) -> IntakeRate | None:
    """Where the API's CPU per accepted order is judged: the busiest intake."""
    return max(rates, key=lambda rate: rate.figures.rate, default=None)


# --- --json ---------------------------------------------------------------------------------


def figures_json(run: Run, failure: str | None, stacks: dict[str, Any]) -> dict[str, Any]:
    """`stacks`: how the run's stacks were set up, for its parameters."""
    args, e2e = run.args, run.e2e
    return {
        "benchmark": "system",
        "parameters": {
            "orders": args.orders,
            "concurrency": args.concurrency,
            "baseline_workflows": args.baseline_workflows,
            "baseline_concurrency": args.baseline_concurrency,
            "rates": args.rates,
            "rate_seconds": args.rate_seconds,
            "in_flight": args.in_flight,
            "tracing_rounds": args.tracing_rounds,
            "tracing_orders": args.tracing_orders,
            "skip": args.skip,
            "seed": args.seed,
            "run_id": run.run_id,
            **stacks,
            "latency_measured_from": "due time (open loop), slot time (closed loop)",
            "pinning": run.pinning,
        },
        "machine": machine(),
        "baseline": run.baseline and {**asdict(run.baseline), "cpu": _cpu_json(run.baseline_cpu)},
        "e2e": e2e and asdict(e2e),
        "intake": [asdict(rate) for rate in run.intake],
        "intake_pinned": [asdict(rate) for rate in run.pinned_intake],
        "memory": run.memory and asdict(run.memory),
        "tracing": tracing_json(run),
        "targets": targets_json(run),
        "error": failure,
    }


def _cpu_json(cpu: PhaseCpu | None) -> dict[str, Any] | None:
    return asdict(cpu) if cpu else None


def targets_json(run: Run) -> dict[str, Any]:
    e2e, memory, tracing = run.e2e, run.memory, run.tracing
    busiest = highest_rate(run.intake)
    return {
        "e2e_ratio": met_target(
            e2e.ratio_to_baseline if e2e else None,
            TARGET_RATIO,
            at_least=True,
            moonshot=MOONSHOT_RATIO,
        ),
        "api_cpu_ms_per_accepted_order_e2e": met_target(
            e2e.cpu.api_ms_per_accepted_order if e2e else None,
            TARGET_API_CPU_MS,
            moonshot=MOONSHOT_API_CPU_MS,
        ),
        "api_cpu_ms_per_accepted_order_intake": {
            "rate": busiest.figures.rate if busiest else None,
            **met_target(
                busiest.cpu.api_ms_per_accepted_order if busiest else None,
                TARGET_API_CPU_MS,
                moonshot=MOONSHOT_API_CPU_MS,
            ),
        },
        "stack_cores_saturated": met_target(
            e2e.cpu.stack_cores if e2e else None, target_cores(run.cpu_count), at_least=True
        ),
        "intake_at_200": intake_json(target_rate(run.intake)),
        "intake_at_200_pinned": intake_json(target_rate(run.pinned_intake)),
        "worker_rss_mb": met_target(memory.rss_mb["worker"] if memory else None, TARGET_WORKER_MB),
        "api_rss_mb": met_target(memory.rss_mb["api"] if memory else None, TARGET_API_MB),
        "tracing_stack_cpu_increase_pct": met_target(
            tracing.stack_cpu_increase_pct if tracing else None,
            tracing.target_cpu_increase_pct if tracing else TARGET_CPU_INCREASE_PCT,
        ),
    }


def intake_json(rate: IntakeRate | None) -> dict[str, Any]:
    """The intake target: p95, errors and every accepted order delivered, all at once."""
    target = {"rate": TARGET_RATE, "p95_ms": TARGET_P95_MS, "seconds": TARGET_RATE_SECONDS}
    if rate is None:
        return {"target": target, "met": None}
    figures, counts = rate.figures, rate.database
    return {
        "p95_ms": figures.latency.p95_ms,
        "errors": figures.errors,
        "accepted": counts.accepted,
        "delivered": counts.delivered,
        "seconds": figures.seconds,
        "target": target,
        "met": intake_met(figures, counts),
    }


def tracing_json(run: Run) -> dict[str, Any] | None:
    """The comparison, and each round's and the traced intake's figures in full."""
    if run.tracing is None:
        return None
    return {
        **asdict(run.tracing),
        "rounds_e2e": [
            {UNTRACED: asdict(untraced), TRACED: asdict(traced)}
            for untraced, traced in run.tracing_rounds
        ],
        "traced_intake": [asdict(rate) for rate in run.traced_intake],
    }


# --- the figures block ----------------------------------------------------------------------


def result_block(run: Run) -> str:
    rows: Rows = []
    if (base := run.baseline) is not None and run.baseline_cpu is not None:
        rows.append(
            ("baseline", f"{base.workflows} workflows of 3 activities in {base.seconds:.1f} s: "
             f"{base.workflows_per_second:.1f} workflows/s (the bench is their worker)")
        )  # fmt: skip
        rows.extend(cpu_rows(run.baseline_cpu, run.cpu_count, per="workflow"))
    rows.extend(e2e_rows(run))
    rows.extend(intake_rows(run.intake, run.cpu_count))
    if run.pinning is not None:
        rows.append(("intake pinned", run.pinning))
    rows.extend(intake_rows(run.pinned_intake, run.cpu_count, pinned=True))
    if run.tracing is not None:
        rows.extend(comparison_rows(run.tracing))
        rows.append(("  database", tracing_reconciliation(run)))
    if (memory := run.memory) is not None:
        worker, api = memory.rss_mb["worker"], memory.rss_mb["api"]
        rows.append(("memory", f"{memory.running_workflows} orders in flight"))
        rows.append(
            ("  worker RSS", f"{worker:.1f} MB; target <= {TARGET_WORKER_MB:g} MB: "
             f"{verdict(worker <= TARGET_WORKER_MB)}")
        )  # fmt: skip
        rows.append(
            ("  API RSS", f"{api:.1f} MB; target <= {TARGET_API_MB:g} MB: "
             f"{verdict(api <= TARGET_API_MB)}")
        )  # fmt: skip
        rows.append(("  Temporal RSS", f"{memory.rss_mb['temporal']:.1f} MB"))
    return "\n".join(f"{label:<16}{value}" for label, value in rows)


def cpu_rows(cpu: PhaseCpu, cpu_count: int, per: str = "order") -> Rows:
    """The cores each process used and the stack in all, then each one's CPU per completed
    order (or `per` what else the phase completes)."""
    cores = ", ".join(f"{name} {value:.2f}" for name, value in cpu.cores.items())
    ms = ", ".join(f"{name} {value:.2f}" for name, value in cpu.ms_per_order.items())
    unit = "ms" if per == "order" else f"ms per {per}"
    return [
        ("  CPU (cores)", f"{cores}; stack {cpu.stack_cores:.2f} of {cpu_count}"),
        ("  CPU per order", f"{ms} {unit}" if ms else f"no {per} completed"),
    ]


def e2e_rows(run: Run) -> Rows:
    if (e2e := run.e2e) is None:
        return []
    rows = [
        ("e2e", f"{e2e.placed}/{e2e.orders} placed, {e2e.errors} errors, {e2e.delivered} "
         f"delivered in {e2e.seconds:.1f} s: {e2e.orders_per_second:.1f} orders/s")
    ]  # fmt: skip
    if e2e.ratio_to_baseline is not None:
        rows.append(("  ratio", ratio_text(e2e.ratio_to_baseline)))
    rows.append(("  POST /orders", _latencies(e2e.placing)))
    rows.extend(cpu_rows(e2e.cpu, run.cpu_count))
    rows.append(("  stack cores", cores_text(e2e.cpu.stack_cores, run.cpu_count)))
    rows.extend(_api_cpu_rows(e2e.cpu))
    rows.append(("  database", reconciliation(e2e.placed, e2e.errors_by_outcome, e2e.database)))
    return rows


def intake_rows(rates: list[IntakeRate], cpu_count: int, pinned: bool = False) -> Rows:
    rows: Rows = []
    busiest = highest_rate(rates)
    for rate in rates:
        rows.extend(_rate_rows(rate, cpu_count, pinned))
        if rate is busiest:
            rows.extend(_api_cpu_rows(rate.cpu))
        if rate.figures.rate == TARGET_RATE:
            rows.append(("  target", intake_text(rate.figures, rate.database)))
    if rates and target_rate(rates) is None:
        rows.append(("  target", f"p95 <= {TARGET_P95_MS:g} ms at {TARGET_RATE:g}/s: not run"))
    return rows


def _rate_rows(rate: IntakeRate, cpu_count: int, pinned: bool) -> Rows:
    figures, latency = rate.figures, rate.figures.latency
    label = f"pinned {figures.rate:g}/s" if pinned else f"intake {figures.rate:g}/s"
    return [
        (
            label,
            f"{figures.sent} sent, {figures.errors} errors, "
            f"{figures.achieved_per_second:.1f}/s achieved; {_latencies(latency)}",
        ),
        ("  send lag", f"max {figures.max_send_lag_ms:.1f} ms before leaving, counted above"),
        ("  drain", f"{rate.drain_seconds:.1f} s; {rate.pending_after_drain} not final"),
        *cpu_rows(rate.cpu, cpu_count),
        ("  database", reconciliation(figures.placed, figures.errors_by_outcome, rate.database)),
    ]


def _api_cpu_rows(cpu: PhaseCpu) -> Rows:
    if cpu.api_ms_per_accepted_order is None:
        return []
    return [("  API CPU", api_cpu_text(cpu.api_ms_per_accepted_order))]


def tracing_reconciliation(run: Run) -> str:
    """The tracing rounds' and traced rates' orders: as the bench counted, or where not."""
    sides = [
        (f"round {number} {side}", e2e.placed, e2e.errors_by_outcome, e2e.database)
        for number, pair in enumerate(run.tracing_rounds, start=1)
        for side, e2e in zip((UNTRACED, TRACED), pair, strict=True)
    ] + [
        (f"intake {r.figures.rate:g}/s", r.figures.placed, r.figures.errors_by_outcome, r.database)
        for r in run.traced_intake
    ]
    mismatched = [
        f"{name}: {reconciliation(placed, errors, counts)}"
        for name, placed, errors, counts in sides
        if discrepancies(placed, errors, counts)
    ]
    if mismatched:
        return "; ".join(mismatched)
    return f"the orders of all {len(sides)} as the bench counted them"


def _latencies(latency: LatencyFigures) -> str:
    return (
        f"p50 {latency.p50_ms:.1f}, p95 {latency.p95_ms:.1f}, p99 {latency.p99_ms:.1f}, "
        f"max {latency.max_ms:.1f} ms"
    )
